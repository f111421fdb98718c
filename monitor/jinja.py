"""The one Jinja2 environment of the mails (digests and alerts), and its templates' search path.

Templates are looked up first in the operator's folder (``[digest] templates_dir``, default
``templates`` beside the config file), then among the built-in ones (``monitor/templates``), so
an operator overrides a template by putting a file of the same name there
(``monitor templates export`` copies the built-in ones as a start). Autoescape is on for HTML,
undefined names are errors. A template that fails to load or render raises ``TemplateError``
naming the file and line, and the caller sends nothing.
"""

from __future__ import annotations

import textwrap
import traceback
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from monitor.errors import TemplateError

_ENVS: dict[str, jinja2.Environment] = {}
_FIX = "fix the template or remove it to use the built-in one; nothing was sent"


def _wrap(text: str, width: int = 76, indent: str = "") -> str:
    return "\n".join(textwrap.wrap(text, width=width, initial_indent=indent,
                                   subsequent_indent=indent, break_on_hyphens=False)) or indent


def environment(templates_dir: Path | None = None) -> jinja2.Environment:
    """The environment searching ``templates_dir`` (when it exists) before the package."""
    key = str(templates_dir.resolve()) if templates_dir is not None else ""
    env = _ENVS.get(key)
    if env is None:
        loaders: list[jinja2.BaseLoader] = []
        if templates_dir is not None:
            loaders.append(jinja2.FileSystemLoader(str(templates_dir)))
        loaders.append(jinja2.PackageLoader("monitor", "templates"))
        env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2"),
                                                disabled_extensions=("txt", "txt.j2"),
                                                default_for_string=True, default=True),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
            auto_reload=True,
        )
        env.filters["wrap"] = _wrap
        _ENVS[key] = env
    return env


def render(templates_dir: Path | None, name: str, context: dict[str, Any]) -> str:
    """``name`` rendered with ``context``; any failure is a ``TemplateError`` naming the file
    and line."""
    env = environment(templates_dir)
    try:
        return env.get_template(name).render(context)
    except jinja2.TemplateSyntaxError as exc:
        where = f"{exc.filename or name} line {exc.lineno}"
        raise TemplateError(f"template {where}: {exc.message}",
                            hint=_FIX) from exc
    except jinja2.TemplateNotFound as exc:
        raise TemplateError(f"template {exc.name} not found",
                            hint=f"looked in {templates_dir} and the built-in templates") from exc
    except Exception as exc:  # a runtime error inside the template (undefined name, filter)
        raise TemplateError(f"template {_where(exc, name)}: {type(exc).__name__}: {exc}",
                            hint=_FIX) from exc


def _where(exc: BaseException, name: str) -> str:
    """The template file and line of a render error: Jinja maps template frames to them."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename.endswith((".j2", ".html", ".txt")) or "<template>" in frame.filename:
            return f"{frame.filename} line {frame.lineno}"
    return name


def builtin_names() -> list[str]:
    return sorted(p.name for p in resources.files("monitor").joinpath("templates").iterdir()
                  if p.name.endswith(".j2"))


def export(target: Path, *, overwrite: bool = False) -> list[tuple[str, bool]]:
    """Copy the built-in templates into ``target``; (name, written) for each, an existing file
    kept unless ``overwrite``."""
    target.mkdir(parents=True, exist_ok=True)
    done = []
    for name in builtin_names():
        path = target / name
        if path.exists() and not overwrite:
            done.append((name, False))
            continue
        text = resources.files("monitor").joinpath("templates", name).read_text(encoding="utf-8")
        path.write_text(text, encoding="utf-8")
        done.append((name, True))
    return done


__all__ = ["builtin_names", "environment", "export", "render"]
