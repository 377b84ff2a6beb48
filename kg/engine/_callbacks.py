"""Task lists: the ``Callbacks`` store and their compiled form the engine's hot loop runs."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from kg.engine.errors import WorkflowDefinitionError

__all__ = ["Callbacks", "UnknownWorkflow", "Block", "compile_block"]


class UnknownWorkflow(WorkflowDefinitionError, KeyError):
    """No task list is registered under this key (a KeyError too, as in the seed)."""


class _CallbacksDict(dict):  # type: ignore[type-arg]
    def __missing__(self, key: str) -> Any:
        raise UnknownWorkflow(
            f"No workflow is registered for the key: {key}. Perhaps you forgot to load "
            "workflows or the workflow definition for the given key was empty?", key)


class Callbacks:
    """Named task lists (key ``'*'`` is the default), nested lists kept as nesting.

    Changes go through these methods so the engine notices them (``version``); a list
    returned by :meth:`get` that is changed in place between two tokens is noticed only
    when its length changes."""

    def __init__(self) -> None:
        self._dict: dict[str, list[Any]] = _CallbacksDict()
        self.version = 0

    def get(self, key: str | None = "*") -> Any:
        """The task list registered under ``key``; all of them (a dict) when ``key`` is falsy."""
        if key:
            return self._dict[key]
        return self._dict

    def add(self, func: Any, key: str = "*") -> None:
        """Append one task (or a nested list) to the list under ``key``, creating it."""
        self.version += 1
        if key not in self._dict:
            self._dict[key] = []
        if func:  # None (and empty lists) are dropped, as in the seed
            self._dict[key].append(func)

    def add_many(self, list_or_tuple: Iterable[Any], key: str = "*") -> None:
        """Append many tasks; tuples are flattened, lists stay nested."""
        for f in list(self.cleanup_callables(list_or_tuple)):
            self.add(f, key)

    @classmethod
    def cleanup_callables(cls, callbacks: Any) -> Iterator[Any]:
        """Drop ``None`` entries and flatten tuples into their parent; lists stay nested."""
        if callable(callbacks):
            yield callbacks
            return
        for x in callbacks:
            if isinstance(x, list):
                yield list(cls.cleanup_callables(x))
            elif isinstance(x, tuple):
                yield from cls.cleanup_callables(x)
            elif x is not None:
                yield x

    def clear(self, key: str = "*") -> None:
        """Remove the task list under ``key``."""
        self.version += 1
        self._dict.pop(key, None)

    def clear_all(self) -> None:
        """Remove every task list."""
        self.version += 1
        self._dict.clear()

    def empty(self) -> bool:
        """True when no task list is registered."""
        return len(self._dict) == 0

    def replace(self, funcs: Any, key: str = "*") -> None:
        """Replace the task list under ``key`` with ``funcs``."""
        cleaned = list(self.cleanup_callables(funcs))
        self.clear(key)
        self.add_many(cleaned, key)

    def __repr__(self) -> str:
        return f"Callbacks({dict(self._dict)!r})"


class Block:
    """A task list compiled for the hot loop.

    ``calls`` has one callable per entry of ``source``: the task itself, or for a nested
    list a runner that pushes a level onto ``callback_pos`` and runs the nested block,
    so the loop calls every entry the same way without type checks. ``blocks`` says
    which entries are nested (for resuming inside them and for per-task hooks)."""

    __slots__ = ("source", "calls", "blocks", "length", "loop_end", "loop_to")

    def __init__(self, source: list[Any]) -> None:
        self.source = source
        self.calls: tuple[Any, ...] = ()
        self.blocks: tuple[Block | None, ...] = ()
        self.length = len(source)
        # A list ending in a backward TASK_JUMP_BWD (FOR, WHILE) is a loop: the fast path
        # goes back to ``loop_to`` on reaching ``loop_end`` instead of calling the jump task
        # and catching its exception (about a third of a microsecond per iteration).
        self.loop_end = self.length
        self.loop_to = -1


def _is_nested(x: Any) -> bool:
    if isinstance(x, (list, tuple)):
        return True
    # The seed treats any iterable as a nested list; a callable wins over that here.
    return not callable(x) and isinstance(x, Iterable) and not isinstance(x, (str, bytes))


def _runner(block: Block) -> Callable[[Any, Any], None]:
    def run_block(obj: Any, eng: Any) -> None:
        pos = eng.state.callback_pos
        pos.append(0)
        eng._run(block, obj, len(pos) - 1)
        # Not in a finally: after an exception the path must keep pointing into the
        # block, so a restart resumes exactly at the task that raised.
        pos.pop()
    run_block.__name__ = "<block>"
    run_block._kg_block = block  # type: ignore[attr-defined]
    return run_block


def compile_block(source: Any, _memo: dict[int, Block] | None = None) -> Block:
    """Compile a (nested) task list; a list that appears twice is compiled once."""
    memo = {} if _memo is None else _memo
    items = source if isinstance(source, list) else list(source)
    block = Block(items)
    memo[id(source)] = block  # before recursing, so self-containing lists terminate
    calls = []
    blocks: list[Block | None] = []
    for x in items:
        if _is_nested(x):
            sub = memo.get(id(x)) or compile_block(x, memo)
            calls.append(_runner(sub))
            blocks.append(sub)
        else:
            calls.append(x)
            blocks.append(None)
    block.calls = tuple(calls)
    block.blocks = tuple(blocks)
    step = getattr(items[-1], "_kg_jump", None) if items else None
    if isinstance(step, int) and step < 0:
        block.loop_end = len(items) - 1
        block.loop_to = max(0, block.loop_end + step)  # where the jump would land
    return block
