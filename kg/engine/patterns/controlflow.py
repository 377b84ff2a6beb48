"""Control-flow patterns: jumps, conditions, loops, choice and merge (parallel ones in _parallel).

See http://www.workflowpatterns.com/patterns/control/ for the names. A pattern that
returns a list is a nested task list: jumps inside it stay inside it."""
from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any

from kg.engine._callbacks import Callbacks
from kg.engine.errors import WorkflowDefinitionError, WorkflowError
from kg.engine.patterns._docs import with_nice_docs
from kg.engine.patterns._parallel import MAX_TIMEOUT, PARALLEL_SPLIT, SYNCHRONIZE

__all__ = ["TASK_JUMP_BWD", "TASK_JUMP_FWD", "TASK_JUMP_IF", "BREAK", "STOP", "HALT", "OBJ_NEXT",
           "OBJ_JUMP_FWD", "OBJ_JUMP_BWD", "IF", "IF_NOT", "IF_ELSE", "WHILE", "CMP", "FOR",
           "PARALLEL_SPLIT", "SYNCHRONIZE", "CHOICE", "SIMPLE_MERGE", "MAX_TIMEOUT"]

Task = Callable[[Any, Any], Any]


def _named(func: Task, name: str) -> Task:
    func.__name__ = name
    return func


def _branch(branch: Any) -> Any:
    """A branch as one entry of a task list: a task, or a nested list.

    A tuple would be flattened into the surrounding list by ``Callbacks.cleanup_callables``
    and shift the offsets the patterns jump by (a seed defect), so it becomes a list."""
    if isinstance(branch, tuple):
        return list(Callbacks.cleanup_callables(branch))
    return branch


def _loop_body(branch: Any) -> tuple[Any, ...]:
    # Loop bodies are spliced into the loop's list; the backward jump counts their entries.
    if callable(branch):
        branch = (branch,)
    return tuple(Callbacks.cleanup_callables(branch))


@with_nice_docs
def TASK_JUMP_BWD(step: int = -1) -> Task:
    """Jump back ``step`` tasks in the current list (``A, B, TASK_JUMP_BWD(-2)`` repeats A, B)."""
    def _move_back(obj: Any, eng: Any) -> None:
        eng.jump_call(step)
    _move_back._kg_jump = step  # type: ignore[attr-defined]  # lets the engine loop without raising
    return _named(_move_back, "TASK_JUMP_BWD")


@with_nice_docs
def TASK_JUMP_FWD(step: int = 1) -> Task:
    """Jump forward ``step`` tasks (``A, B, TASK_JUMP_FWD(2), C, D`` runs A, B, D)."""
    def _x(obj: Any, eng: Any) -> None:
        eng.jump_call(step)
    return _named(_x, "TASK_JUMP_FWD")


@with_nice_docs
def TASK_JUMP_IF(cond: Task, step: int) -> Task:
    """Jump ``step`` tasks when ``cond(obj, eng)`` is true; otherwise go on."""
    def jump(obj: Any, eng: Any) -> Any:
        result = cond(obj, eng)
        if result:
            eng.jump_call(step)
        return result
    return _named(jump, "TASK_JUMP_IF")


@with_nice_docs
def BREAK() -> Task:
    """Leave the current task list; the workflow goes on after it."""
    def x(obj: Any, eng: Any) -> None:
        eng.break_current_loop()
    return _named(x, "BREAK")


@with_nice_docs
def STOP() -> Task:
    """Stop the workflow (it finishes normally)."""
    def x(obj: Any, eng: Any) -> None:
        eng.stop()
    return _named(x, "STOP")


@with_nice_docs
def HALT(msg: str = "", action: str | None = None, payload: Any = None) -> Task:
    """Halt the workflow; it can be restarted from here."""
    def x(obj: Any, eng: Any) -> None:
        eng.halt(msg, action=action, payload=payload)
    return _named(x, "HALT")


@with_nice_docs
def OBJ_NEXT() -> Task:
    """Stop working on the current token and start the workflow on the next one.

    The seed broke out of the current list only, which inside a nested list went on
    with the same token; this does what its documentation says."""
    def x(obj: Any, eng: Any) -> None:
        eng.continue_next_token()
    return _named(x, "OBJ_NEXT")


@with_nice_docs
def OBJ_JUMP_FWD(step: int = 1) -> Task:
    """Stop this token and continue with the token ``step`` further on (sign ignored)."""
    offset = abs(step)

    def x(obj: Any, eng: Any) -> None:
        eng.jump_token(offset)
    return _named(x, "OBJ_JUMP_FWD")


@with_nice_docs
def OBJ_JUMP_BWD(step: int = -1) -> Task:
    """Stop this token and continue with the token ``step`` before it (sign ignored)."""
    offset = -abs(step)

    def _x(obj: Any, eng: Any) -> None:
        eng.jump_token(offset)
    return _named(_x, "OBJ_JUMP_BWD")


# ------------------------------- conditions ------------------------------------ #

@with_nice_docs
def IF(cond: Task, branch: Any) -> list[Any]:
    """Run ``branch`` when ``cond(obj, eng)`` is true."""
    def _x(obj: Any, eng: Any) -> None:
        if cond(obj, eng):
            eng.jump_call(1)
        eng.break_current_loop()
    return [_named(_x, "IF"), _branch(branch)]


@with_nice_docs
def IF_NOT(cond: Task, branch: Any) -> list[Any]:
    """Run ``branch`` when ``cond(obj, eng)`` is false."""
    def _x(obj: Any, eng: Any) -> int:
        if cond(obj, eng):
            eng.break_current_loop()
        return 1
    return [_named(_x, "IF_NOT"), _branch(branch)]


@with_nice_docs
def IF_ELSE(cond: Task, branch1: Any, branch2: Any) -> list[Any]:
    """Run ``branch1`` when ``cond(obj, eng)`` is true, else ``branch2``."""
    if branch1 is None or branch2 is None:
        raise WorkflowDefinitionError("Neither of the branches can be None/empty", "IF_ELSE")

    def _x(obj: Any, eng: Any) -> None:
        eng.jump_call(1 if cond(obj, eng) else 3)
    return [_named(_x, "IF_ELSE"), _branch(branch1), BREAK(), _branch(branch2)]


@with_nice_docs
def WHILE(cond: Task, branch: Any) -> list[Any]:
    """Run ``branch`` again and again while ``cond(obj, eng)`` is true."""
    body = _loop_body(branch)

    def _x(obj: Any, eng: Any) -> None:
        if not cond(obj, eng):
            eng.break_current_loop()
    return [_named(_x, "WHILE"), body, TASK_JUMP_BWD(-(len(body) + 1))]


_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq, "gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le,
    "==": operator.eq, ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
    "in": lambda a, b: b in a,
}


def CMP(a: Any, b: Any, op: str) -> Task:
    """A condition comparing ``a`` and ``b`` with ``op`` (eq gt gte lt lte == > >= < <= in).

    A callable operand is called as ``f(obj, eng)`` (repeatedly, while it returns a callable)."""
    try:
        compare = _OPERATORS[op]
    except KeyError:
        raise WorkflowDefinitionError(f"unknown CMP operator {op!r}; use one of {', '.join(_OPERATORS)}",
                                      "CMP") from None

    def _CMP(obj: Any, eng: Any) -> Any:
        a_, b_ = a, b
        while callable(a_):
            a_ = a_(obj, eng)
        while callable(b_):
            b_ = b_(obj, eng)
        return compare(a_, b_)
    _CMP.hide = True  # type: ignore[attr-defined]
    return _named(_CMP, "CMP")


def _setter(key: str, obj: Any, eng: Any, step: str, val: Any) -> None:
    eng.extra_data[key] = val


@with_nice_docs
def FOR(get_list_function: Any, setter: Any, branch: Any, cache_data: bool = False,
        order: str = "ASC") -> list[Any]:
    """Run ``branch`` once per item of a list, storing the item with ``setter`` first.

    :param get_list_function: the items, or ``f(obj, eng)`` returning them (called on
        every iteration, so the list may change, unless ``cache_data``).
    :param setter: key of ``eng.extra_data`` to store the item in, or
        ``setter(obj, eng, step, item)``. After the loop it keeps the last item, as a
        Python loop variable does.
    :param order: "ASC" (first to last) or "DSC" (last to first).

    The loop's position lives in ``eng.extra_data["_Iterators"]`` under the key of its
    place in the workflow, so a halted loop resumes with the next item."""
    if order not in ("ASC", "DSC"):
        raise WorkflowDefinitionError(f"FOR order must be 'ASC' or 'DSC', not {order!r}", "FOR")
    # A key is stored directly (the seed went through partial(_setter, key) on every item).
    var_name = setter if isinstance(setter, str) else None
    if var_name is not None:
        setter = partial(_setter, var_name)
    body = _loop_body(branch)
    ascending = order == "ASC"
    fixed_items: Sequence[Any] | None = None
    if callable(get_list_function):
        get_items: Task = get_list_function
    elif isinstance(get_list_function, Sequence) and not isinstance(get_list_function, str):
        fixed_items = get_list_function  # indexed in place: no copy per iteration
    elif isinstance(get_list_function, Iterable):
        fixed_items = list(get_list_function)  # a generator can be read only once
    else:
        raise WorkflowDefinitionError("get_list_function is not a callable nor an iterable", "FOR")
    # str(callback_pos) costs ~0.2 us; the key is recomputed only when the position changes.
    # One tuple, replaced whole, so threads sharing this task never see a torn pair.
    last_key: list[tuple[list[int], str]] = [([], "")]

    def _for(obj: Any, eng: Any) -> None:
        state = eng.state
        pos = state.callback_pos
        cached = last_key[0]
        if cached[0] == pos:
            step = cached[1]
        else:
            step = str(pos)  # the seed's key, e.g. '[0, 0]'
            last_key[0] = (list(pos), step)
        extra = eng.extra_data
        iterators = extra.get("_Iterators")
        if iterators is None:
            iterators = extra["_Iterators"] = {}
        record = iterators.get(step)
        token = state.token_pos
        # A record left by a halted run on another token must not continue here.
        if record is None or record.get("token") != token:
            items = fixed_items if fixed_items is not None else get_items(obj, eng)
            record = {"value": 0 if ascending else len(items) - 1, "token": token}
            if cache_data:
                items = record["cache"] = list(items)
            iterators[step] = record
        elif cache_data:
            items = record["cache"]
        else:
            items = fixed_items if fixed_items is not None else get_items(obj, eng)
        value = record["value"]
        if (value < len(items)) if ascending else (value > -1):
            current = items[value]
            if var_name is not None:
                extra[var_name] = current
            elif setter:
                setter(obj, eng, step, current)
            record["value"] = value + 1 if ascending else value - 1
        else:
            # The end (the seed raised KeyError 'previous_data' here): the variable keeps
            # the last item, the record goes so the loop starts afresh next time.
            del iterators[step]
            eng.break_current_loop()
    return [_named(_for, "FOR"), body, TASK_JUMP_BWD(-(len(body) + 1))]


@with_nice_docs
def CHOICE(arbiter: Task, *predicates: Sequence[Any], **kwpredicates: Any) -> list[Any]:
    """Run the one branch named by ``arbiter(obj, eng)``.

    Branches are given as ``("name", task_or_list, ...)`` tuples or as ``name=branch``
    keywords; an arbiter value that names no branch is a WorkflowError."""
    workflow: list[Any] = []
    mapping: dict[Any, int] = {}
    named = [(p[0], list(Callbacks.cleanup_callables(p[1:]))) for p in predicates]
    named += [(k, [v] if callable(v) else list(Callbacks.cleanup_callables(_as_list(v))))
              for k, v in kwpredicates.items()]
    for key, branch in named:
        workflow.append(branch)
        mapping[key] = len(workflow)  # index once the chooser is put in front
        workflow.append(BREAK())

    def _exclusive_choice(obj: Any, eng: Any) -> None:
        value = arbiter(obj, eng)
        try:
            offset = mapping[value]
        except (KeyError, TypeError):
            raise WorkflowError(f"CHOICE: {value!r} names no branch (known: {list(mapping)!r})") from None
        eng.jump_call(offset)
    workflow.insert(0, _named(_exclusive_choice, getattr(arbiter, "__name__", "CHOICE")))
    return workflow


def _as_list(branch: Any) -> Any:
    return [branch] if not isinstance(branch, (list, tuple)) else branch


@with_nice_docs
def SIMPLE_MERGE(*args: Any) -> list[Any]:
    """Run the first branch, then the last task (merge without synchronization).

    ``SIMPLE_MERGE(B, C, D, E)``: E runs as soon as one of B, C, D completes; B runs
    first, and C or D only when a jump inside B leads there."""
    if len(args) < 2:
        raise WorkflowDefinitionError("You must supply at least 2 callables", "SIMPLE_MERGE")
    workflow: list[Any] = []
    total = (len(args) - 1) * 2 + 1
    for branch in args[:-1]:
        total -= 2
        workflow.append(_branch(branch))
        workflow.append(TASK_JUMP_FWD(total))
    workflow.append(_branch(args[-1]))
    return workflow
