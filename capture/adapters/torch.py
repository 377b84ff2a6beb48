"""PyTorch: record each ``forward`` call of a module as a Task (input and output shapes, dtype, device).

    model = capture.instrument(MyNet())          # an instance
    @capture.instrument                          # or a class
    class MyNet(nn.Module): ...

Tensors are summarised by shape, dtype, device and requires_grad, never by their data.
An instrumented instance holds its wrapper in ``module.forward``: ``copy.deepcopy`` of it
would call the original's forward, so instrument copies after making them (or decorate the
class). Submodules are not instrumented unless asked (``submodules=True``): a forward call of
an instrumented submodule then nests under its parent's call.
"""
from __future__ import annotations

from typing import Any

from capture._task import TaskSpec, _wrap_full
from capture.adapters import require
from capture.values import register_handler

__all__ = ["instrument", "tensor_summary", "module_summary"]

_MARK = "__kg_instrumented__"
_registered = False


def tensor_summary(t: Any) -> dict[str, Any]:
    """A tensor as provenance: shape, dtype, device, requires_grad (no data)."""
    return {"type": "torch.Tensor", "shape": list(t.shape), "dtype": str(t.dtype), "device": str(t.device),
            "requires_grad": bool(t.requires_grad)}


def _register(torch: Any) -> None:
    global _registered
    if not _registered:
        _registered = True
        register_handler(torch.Tensor, tensor_summary)
        register_handler(torch.nn.Parameter, tensor_summary)


def module_summary(m: Any) -> dict[str, Any]:
    """A module as an input (``self``): its class, never its repr (which walks the whole model)."""
    cls = type(m)
    return {"type": f"{cls.__module__}.{cls.__qualname__}", "training": bool(getattr(m, "training", False))}


def _instrument_class(cls: type, name: str | None, metadata: dict[str, Any] | None, tags: Any) -> type:
    forward = cls.__dict__.get("forward") or cls.forward  # type: ignore[attr-defined]
    if getattr(forward, _MARK, False):
        return cls
    label = name or f"{cls.__qualname__}.forward"
    meta = {"module": f"{cls.__module__}.{cls.__qualname__}", **(metadata or {})}
    register_handler(cls, module_summary)  # ``self`` is an input of each call: keep it cheap
    wrapped = _wrap_full(forward, TaskSpec(forward, label, tags=tags, metadata=meta))
    setattr(wrapped, _MARK, True)
    cls.forward = wrapped  # type: ignore[attr-defined]
    return cls


def _instrument_module(module: Any, name: str | None, metadata: dict[str, Any] | None, tags: Any) -> Any:
    if getattr(module.forward, _MARK, False):
        return module
    cls = type(module)
    label = name or f"{cls.__qualname__}.forward"
    n_params = sum(int(p.numel()) for p in module.parameters())
    meta = {"module": f"{cls.__module__}.{cls.__qualname__}", "parameters": n_params, **(metadata or {})}
    bound = module.forward
    wrapped = _wrap_full(bound, TaskSpec(bound, label, tags=tags, metadata=meta))
    setattr(wrapped, _MARK, True)
    # An instance attribute shadows the class's forward for this module only; nn.Module.__call__ uses it.
    object.__setattr__(module, "forward", wrapped)
    return module


def instrument(target: Any = None, *, name: str | None = None, metadata: dict[str, Any] | None = None,
               tags: Any = None, submodules: bool = False) -> Any:
    """Instrument an ``nn.Module`` instance or subclass (also usable as ``@instrument`` or ``@instrument(...)``).

    Returns its argument, so ``model = instrument(Net())`` and class decoration both work."""
    torch = require("torch", "torch")
    _register(torch)

    def apply(obj: Any) -> Any:
        if isinstance(obj, type) and issubclass(obj, torch.nn.Module):
            return _instrument_class(obj, name, metadata, tags)
        if isinstance(obj, torch.nn.Module):
            if submodules:
                for sub_name, sub in obj.named_modules():
                    if sub is not obj:
                        _instrument_module(sub, f"{type(sub).__qualname__}({sub_name}).forward", None, tags)
            return _instrument_module(obj, name, metadata, tags)
        from kg.exceptions import CaptureError

        raise CaptureError(f"capture.instrument expects a torch.nn.Module or a subclass, not {type(obj).__name__}")

    return apply(target) if target is not None else apply
