"""``with_nice_docs``: give the task a pattern returns a docstring naming the pattern and its arguments."""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

__all__ = ["with_nice_docs"]


def with_nice_docs(func: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a pattern so its task gets a docstring (override with ``comment=...``)."""
    def comment_from_params(*args: Any, **kwargs: Any) -> str:
        args_doc = "args(" + ", ".join(str(arg) for arg in args) + ")"
        kwargs_doc = "kwargs(" + ", ".join(f"{k}<{type(v)}>" for k, v in kwargs.items()) + ")"
        return f"{func.__name__}: {args_doc}; {kwargs_doc}."

    @functools.wraps(func)
    def decorated(*args: Any, **kwargs: Any) -> Any:
        comment = kwargs.pop("comment", None)
        inner = func(*args, **kwargs)
        if comment is None:
            comment = comment_from_params(*args, **kwargs)
        target = inner if callable(inner) else (inner[0] if isinstance(inner, list) and inner else None)
        if target is not None:
            try:
                target.__doc__ = comment
            except (AttributeError, TypeError):  # builtins and partials may refuse
                pass
        return inner
    return decorated
