"""wnod's batch-system adapter for IBM Spectrum LSF (``[batch] system = "lsf"``)."""
