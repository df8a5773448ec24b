"""Regenerate the parts of wnod's docs that are made from the code.

    .venv/bin/python docs/generate.py           # rewrite them
    .venv/bin/python docs/generate.py --check   # exit 1 naming every stale file

- docs/configuration.md is, whole, the output of ``wnod --no-plugins config reference``.
- In docs/hooks.md, docs/cli.md and docs/architecture.md, the text between ``<!-- generated: NAME -->`` and
  ``<!-- end generated: NAME -->`` is made here from the hookspecs, the records, the
  interfaces and the click command tree; the prose around it is written by hand.

tests/docs/ fails when a committed file differs from what this script makes.
"""

import ast
import enum
import inspect
import re
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import attrs
import click
from click.testing import CliRunner

from wnod_core import errors, hookspecs, interfaces, records
from wnod_core.cli.context import CliContext
from wnod_core.cli.main import cli
from wnod_core.model import JobFacts, JobState, Refused, Resolved, Vwn, VwnState
from wnod_core.model.events import JobStep, JobStepped, VwnChanged
from wnod_core.model.fields import doc_of

DOCS = Path(__file__).resolve().parent
REGENERATE = ".venv/bin/python docs/generate.py"

# -- helpers ------------------------------------------------------------------------------------------

_MODULE_PREFIX = re.compile(r"\b(?:wnod_core(?:\.\w+)*|collections\.abc|typing|pathlib)\.(?=[A-Za-z_])")


def short(text: str) -> str:
    """Type text as the source spells it: ``wnod_core.records.Setup[typing.Any]`` -> ``Setup[Any]``,
    ``click.core.Command`` -> ``click.Command``."""
    return _MODULE_PREFIX.sub("", text).replace("click.core.", "click.")


def type_text(annotation: Any) -> str:
    if annotation is type(None):
        return "None"
    if isinstance(annotation, TypeVar):
        return annotation.__name__
    if isinstance(annotation, type) and not getattr(annotation, "__args__", None):
        return annotation.__name__
    return short(str(annotation))


def signature(function: Callable[..., Any], *, drop_self: bool = False) -> str:
    """``name(arg: Type) -> Return``, as ``inspect.signature`` gives it, module prefixes removed."""
    sig = inspect.signature(function)
    if drop_self:
        sig = sig.replace(parameters=[p for p in sig.parameters.values() if p.name != "self"])
    return f"{function.__name__}{short(str(sig))}"


def markdown_doc(doc: str | None) -> str:
    """A docstring as Markdown: ``x`` becomes `x`, an ``Example::`` block a fenced code block."""
    text = inspect.cleandoc(doc or "")
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        section = _SECTION.match(line)
        if section:
            i += 1
            block = []
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith("    ")):
                block.append(lines[i])
                i += 1
            out += [f"**{section.group(1)}:**", "", *_section_items(block, section.group(1)), ""]
            continue
        if line.rstrip().endswith("::"):
            out.append(_inline(line.rstrip()[:-1]))
            i += 1
            block: list[str] = []
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith("    ")):
                block.append(lines[i])
                i += 1
            code = textwrap.dedent("\n".join(block)).strip("\n")
            out += ["", "```python", code, "```", ""]
            continue
        out.append(_inline(line))
        i += 1
    return "\n".join(out).strip()


_SECTION = re.compile(r"^(Args|Returns|Raises|Yields):\s*$")


def _section_items(block: list[str], section: str) -> list[str]:
    """A Google-style docstring section as Markdown: a list of arguments, else one paragraph."""
    items: list[str] = []
    for line in textwrap.dedent("\n".join(block)).splitlines():
        if not line.strip():
            continue
        if line.startswith(" ") and items:
            items[-1] += " " + line.strip()
        else:
            items.append(line.strip())
    if section == "Args":
        return [_inline("- `{}`:{}".format(*item.split(":", 1))) if ":" in item else f"- {item}" for item in items]
    return [_inline(" ".join(items))]


def _inline(line: str) -> str:
    return line.replace("``", "`")


def attribute_docs(cls: type) -> dict[str, str]:
    """The docstrings written under attribute definitions of `cls` and its bases."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if klass.__module__ in ("builtins", "typing", "abc", "enum"):
            continue
        try:
            source = textwrap.dedent(inspect.getsource(klass))
        except (OSError, TypeError):
            continue
        body = ast.parse(source).body[0].body  # type: ignore[attr-defined]
        for stmt, after in zip(body, body[1:] + [None], strict=True):
            target = None
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                target = stmt.target.id
            elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                target = stmt.targets[0].id
            if (
                target
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                docs[target] = " ".join(inspect.cleandoc(after.value.value).split())
    return docs


def _cell(text: str) -> str:
    return _inline(text).replace("|", "\\|").replace("\n", " ")


def _default(field: attrs.Attribute) -> str:
    default = field.default
    if default is attrs.NOTHING:
        return "required"
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        default = default.factory()  # type: ignore[attr-defined]
    if isinstance(default, enum.Enum):
        return f"`{type(default).__name__}.{default.name}`"
    if isinstance(default, str):
        return f'`"{default}"`'
    return f"`{default!r}`"


def fields_table(cls: type) -> list[str]:
    notes = attribute_docs(cls)
    hints = _hints(cls)
    lines = ["| field | type | default | meaning |", "| --- | --- | --- | --- |"]
    for field in attrs.fields(cls):
        annotation = hints.get(field.name, field.type)
        meaning = doc_of(field) or notes.get(field.name, "")
        kind = _cell(f"`{type_text(annotation)}`")
        lines.append(f"| `{field.name}` | {kind} | {_default(field)} | {_cell(meaning)} |")
    return lines


def _hints(cls: type) -> dict[str, Any]:
    import typing

    try:
        return typing.get_type_hints(cls)
    except Exception:  # a forward reference the generator cannot see: fall back to attrs' own
        return {}


def value_class(cls: type, level: str = "###") -> list[str]:
    lines = [f"{level} `{cls.__name__}`", ""]
    doc = markdown_doc(cls.__doc__)
    if doc:
        lines += [doc, ""]
    if attrs.has(cls):
        lines += fields_table(cls) + [""]
    return lines


def enum_class(cls: type[enum.Enum], level: str = "###") -> list[str]:
    lines = [f"{level} `{cls.__name__}`", ""]
    doc = markdown_doc(cls.__doc__)
    if doc:
        lines += [doc, ""]
    notes = attribute_docs(cls)
    lines += ["| member | value | meaning |", "| --- | --- | --- |"]
    for member in cls:
        lines.append(f'| `{member.name}` | `"{member.value}"` | {_cell(notes.get(member.name, ""))} |')
    return lines + [""]


def interface(cls: type) -> list[str]:
    lines = [f"### `{cls.__name__}`", "", markdown_doc(cls.__doc__), ""]
    abstract = getattr(cls, "__abstractmethods__", frozenset())
    for name, function in cls.__dict__.items():
        if name.startswith("_") or not callable(function):
            continue
        kind = "required" if name in abstract else "optional: the base class provides a default"
        lines += [f"#### `{cls.__name__}.{signature(function, drop_self=True)}`", "", f"*{kind}.*", ""]
        lines += [markdown_doc(function.__doc__), ""]
    return lines


# -- docs/hooks.md ------------------------------------------------------------------------------------


def hookspec_functions() -> list[Callable[..., Any]]:
    """Every hookspec, in the order hookspecs.py defines them."""
    found = [f for n, f in vars(hookspecs).items() if n.startswith("wnod_") and inspect.isfunction(f)]
    return sorted(found, key=lambda f: f.__code__.co_firstlineno)


def hooks_reference() -> str:
    lines: list[str] = ["## Hooks", ""]
    for function in hookspec_functions():
        lines += [f"### `{signature(function)}`", "", markdown_doc(function.__doc__), ""]
    lines += ["## Registration records", ""]
    lines += [
        "The registration hooks yield these. `name` is normalised (lowercase, `_` becomes `-`) and must"
        " be a plain name; `options`, when given, must be an attrs class.",
        "",
    ]
    for cls in (records.BatchSystemPlugin, records.HypervisorPlugin, records.ResolverPlugin, records.Setup, records.Dirs):
        lines += value_class(cls)
    lines += ["## Lifecycle events", ""]
    lines += value_class(VwnChanged)
    lines += value_class(JobStepped)
    lines += enum_class(JobStep)
    lines += value_class(Vwn)
    lines += enum_class(VwnState)
    lines += ["## Interfaces", ""]
    for cls in (interfaces.BatchSystem, interfaces.Hypervisor, interfaces.Resolver):
        lines += interface(cls)
    lines += ["## Values the interfaces take and return", ""]
    for cls in (JobFacts, Resolved, Refused, interfaces.BaitRequest, interfaces.BatchHost):
        lines += value_class(cls)
    lines += enum_class(JobState)
    lines += enum_class(interfaces.BaitOutcome)
    for cls in (interfaces.VwnSpec, interfaces.DomainInfo, interfaces.DomainEvent):
        lines += value_class(cls)
    lines += enum_class(interfaces.DomainState)
    lines += ["## Errors", ""]
    lines += ["All in `wnod_core.errors`. Raise these, not bare exceptions, for failures of the outside world.", ""]
    lines += ["| error | is a | meaning |", "| --- | --- | --- |"]
    for name, cls in vars(errors).items():
        if isinstance(cls, type) and issubclass(cls, Exception) and cls.__module__ == errors.__name__:
            base = cls.__bases__[0].__name__
            lines.append(f"| `{name}` | `{base}` | {_cell(' '.join(inspect.cleandoc(cls.__doc__ or '').split()))} |")
    return "\n".join(_squeeze(lines)).strip() + "\n"


def _squeeze(lines: list[str]) -> Iterator[str]:
    """No runs of blank lines (Markdown renders them as one anyway; diffs stay calm)."""
    blank = False
    for chunk in lines:
        for line in chunk.split("\n"):
            line = line.rstrip()
            if not line and blank:
                continue
            blank = not line
            yield line


# -- docs/cli.md --------------------------------------------------------------------------------------


def _core_root() -> click.Context:
    """The root context with only the core's own commands (no installed plugins)."""
    ctx = click.Context(cli, info_name="wnod", **cli.context_settings)
    ctx.meta["wnod"] = CliContext(no_plugins=True)
    return ctx


def _walk(ctx: click.Context) -> Iterator[click.Context]:
    yield ctx
    command = ctx.command
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                yield from _walk(click.Context(sub, info_name=name, parent=ctx))


def _value(param: click.Parameter, ctx: click.Context) -> str:
    if isinstance(param, click.Option):
        if param.count:
            return "count"
        if param.is_flag:
            return "flag"
    word = param.make_metavar(ctx)
    if getattr(param, "multiple", False):
        word += ", repeatable"
    if param.required:
        word += ", required"
    return word


def _env(param: click.Parameter, ctx: click.Context) -> str:
    if not isinstance(param, click.Option) or not param.expose_value or param.name is None:
        return ""
    if param.envvar:
        names = [param.envvar] if isinstance(param.envvar, str) else list(param.envvar)
        return ", ".join(f"`{n}`" for n in names)
    if param.allow_from_autoenv and ctx.auto_envvar_prefix:
        return f"`{ctx.auto_envvar_prefix}_{param.name.upper()}`"
    return ""


def _option_help(param: click.Parameter) -> str:
    text = getattr(param, "help", None) or ""
    default = param.default
    # Only plain defaults are worth showing; click marks "no default" with a sentinel object.
    shown = isinstance(default, str | int | float) and not isinstance(default, bool) and default != ""
    if isinstance(param, click.Option) and not param.is_flag and not param.count and shown:
        text += f" Default: `{default}`."
    return text


def cli_reference() -> str:
    lines: list[str] = []
    for ctx in _walk(_core_root()):
        command = ctx.command
        path = ctx.command_path
        level = "###" if ctx.parent is None or ctx.parent.parent is None else "####"
        lines += [f"{level} `{path}`", ""]
        usage = " ".join([path, *command.collect_usage_pieces(ctx)])
        lines += ["```", usage, "```", ""]
        lines += [inspect.cleandoc(command.help or ""), ""]
        params = [p for p in command.get_params(ctx) if p.name or p.opts]
        if params:
            lines += ["| option | value | env | meaning |", "| --- | --- | --- | --- |"]
            for param in params:
                names = ", ".join(f"`{n}`" for n in [*param.opts, *param.secondary_opts])
                lines.append(f"| {names} | {_value(param, ctx)} | {_env(param, ctx)} | {_cell(_option_help(param))} |")
            lines.append("")
        if isinstance(command, click.Group):
            subs = command.list_commands(ctx)
            lines += ["Commands: " + ", ".join(f"`{path} {s}`" for s in subs) + ".", ""]
    return "\n".join(_squeeze(lines)).strip() + "\n"


# -- docs/architecture.md: the protocol's tables ----------------------------------------------------


def protocol_reference() -> str:
    """The moves of a job's flight and of a VWN's life, as the engine's tables allow them."""
    from wnod_core.model.events import JobStep
    from wnod_core.model.flight import FINAL_STEPS, next_steps
    from wnod_core.model.vwn import VwnState, legal_moves

    lines = ["Both as diagrams (Mermaid: GitHub draws them; here they read as text), then as tables.", ""]
    lines += ["```mermaid", "stateDiagram-v2", "    [*] --> bait_entered"]
    lines += [f"    {step} --> {to}" for step in JobStep for to in JobStep
              if to in next_steps(step) and not (step in FINAL_STEPS and to is JobStep.BAIT_ENTERED)]
    lines += [f"    {step} --> [*]" for step in JobStep if step in FINAL_STEPS]
    lines += ["```", "", "(A final step goes back to `bait_entered` when a bait sends the job again.)", ""]
    lines += ["```mermaid", "stateDiagram-v2", "    [*] --> creating"]
    lines += [f"    {state} --> {to}" for state in VwnState for to in VwnState if to in legal_moves(state)]
    lines += ["    destroyed --> [*]", "```", ""]
    lines += ["A job's flight (`JobStep`):", "", "| step | may go to | means |", "| --- | --- | --- |"]
    for step in JobStep:
        moves = ", ".join(f"`{s}`" for s in JobStep if s in next_steps(step)) or "—"
        final = " (final)" if step in FINAL_STEPS else ""
        lines.append(f"| `{step}`{final} | {moves} | {_cell(_member_doc(JobStep, step))} |")
    lines += ["", "A VWN's life (`VwnState`):", "", "| state | may go to | means |", "| --- | --- | --- |"]
    for state in VwnState:
        moves = ", ".join(f"`{s}`" for s in VwnState if s in legal_moves(state)) or "—"
        lines.append(f"| `{state}` | {moves} | {_cell(_member_doc(VwnState, state))} |")
    return "\n".join(lines) + "\n"


def _member_doc(enum_class: type, member: object) -> str:
    """The docstring written under an enum member in its class's source."""
    source = inspect.getsource(enum_class)
    match = re.search(rf'^\s+{member.name} = "[^"]*"\n\s+"""(.*?)"""', source, re.M | re.S)  # type: ignore[attr-defined]
    return " ".join(match.group(1).split()) if match else ""


# -- docs/configuration.md ----------------------------------------------------------------------------


def configuration_reference() -> str:
    """Exactly what ``wnod --no-plugins config reference`` prints."""
    result = CliRunner().invoke(cli, ["--no-plugins", "config", "reference"], prog_name="wnod")
    if result.exit_code != 0:
        raise RuntimeError(f"wnod config reference failed ({result.exit_code}): {result.output}")
    return result.stdout


# -- splicing and the command line --------------------------------------------------------------------


def splice(text: str, name: str, block: str) -> str:
    """`text` with the part between the markers of `name` replaced by `block`."""
    begin, end = f"<!-- generated: {name} -->", f"<!-- end generated: {name} -->"
    if text.count(begin) != 1 or text.count(end) != 1 or text.index(begin) > text.index(end):
        raise ValueError(f"expected one {begin} ... {end} pair")
    head, rest = text.split(begin)
    _, tail = rest.split(end)
    note = f"<!-- Made by `{REGENERATE}` from the code; edit the code, not this part. -->"
    return f"{head}{begin}\n{note}\n\n{block}\n{end}{tail}"


def expected_files() -> dict[Path, str]:
    """Each generated file with the text it must have now."""
    hooks = DOCS / "hooks.md"
    cli_md = DOCS / "cli.md"
    architecture = DOCS / "architecture.md"
    return {
        DOCS / "configuration.md": configuration_reference(),
        hooks: splice(hooks.read_text(), "hooks", hooks_reference()),
        cli_md: splice(cli_md.read_text(), "commands", cli_reference()),
        architecture: splice(architecture.read_text(), "protocol", protocol_reference()),
    }


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for path, text in expected_files().items():
        current = path.read_text() if path.exists() else None
        if current == text:
            continue
        stale.append(path)
        if not check:
            path.write_text(text)
    for path in stale:
        print(f"{'stale' if check else 'rewrote'}: {path.relative_to(DOCS.parent)}")
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
