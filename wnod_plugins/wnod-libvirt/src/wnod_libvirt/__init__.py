"""wnod-libvirt: wnod's hypervisor backend for libvirt (Xen PV, KVM, QEMU).

``plugin`` is the entry point; ``backend.LibvirtHypervisor`` implements the core's
``Hypervisor`` interface; ``config`` formats and parses domain XML; ``design`` decides
what a VWN's domain looks like; ``host`` owns the connection and its events; ``errors``
is where libvirt's errors become wnod's.
"""
