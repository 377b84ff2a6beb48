"""The workflow engine: a finite-state machine that moves tokens through nested task lists."""
from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from kg.engine._callbacks import Block, Callbacks, compile_block
from kg.engine._compat import DeprecatedEngineMethods
from kg.engine._factory import ActionMapper, Break, Continue, ProcessingFactory, find_transition_handler
from kg.engine._hooks import EngineHooks
from kg.engine._state import MachineState
from kg.engine.errors import (
    AbortProcessing,
    BreakFromThisLoop,
    ContinueNextToken,
    HaltProcessing,
    JumpCall,
    JumpToken,
    SkipToken,
    StopProcessing,
    WorkflowAPIError,
    WorkflowError,
)
from kg.engine.signals import Signal
from kg.engine.utils import classproperty
from kg.ids import new_id

__all__ = ["WorkflowEngine"]

_CACHE_LIMIT = 64  # compiled task lists kept per engine (callback_chooser may mint new lists)
_TOKEN_MOVES = ("prev", "current", "next", "first")


def _task_name(callback: Any) -> str:
    return getattr(callback, "__name__", None) or "<Unnamed Function>"


class WorkflowEngine(DeprecatedEngineMethods):
    """Runs every token through the task lists; each task is called as ``task(obj, eng)``.

    Tasks steer the run by calling ``eng.halt()``, ``eng.jump_call(n)`` and the other
    control methods, which raise the transition exceptions of ``kg.engine.errors``.
    Extend it as the seed does (``processing_factory`` with an action mapper and
    transition actions) or attach listeners with ``eng.hooks.connect(event, fn)`` and
    the blinker signals of ``kg.engine.signals``."""

    def __init__(self) -> None:
        self.callbacks = Callbacks()
        self.objects: Any = []
        self.id = new_id("wfe")
        self.log = self.init_logger()
        self.state = MachineState()
        self.extra_data: dict[str, Any] = {}
        self.last_exception: BaseException | None = None
        self._compiled_cache: dict[int, tuple[Any, Block, int, int]] = {}
        self._current_callbacks: Any = None
        self._per_task: tuple[tuple[Any, ...], tuple[Any, ...], bool] | None = None
        self._native_jumps = True
        self.hooks = EngineHooks(self._refresh_mode)
        self._refresh_mode()

    def __len__(self) -> int:
        """Number of tokens of the current run."""
        return len(self.objects)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id} {self.state!r}>"

    @classproperty
    def signal(cls) -> Any:
        """The signal caller (``eng.signal.workflow_halted(eng)``)."""
        return Signal

    @classproperty
    def processing_factory(cls) -> Any:
        """The class whose hooks run around the run, each token and each task."""
        return ProcessingFactory

    def init_logger(self) -> Any:
        """This engine's logger (override to use another); records carry the engine id."""
        base = logging.getLogger(f"kg.engine.{type(self).__name__}")
        return logging.LoggerAdapter(base, {"engine_id": self.id})

    def duplicate(self) -> WorkflowEngine:
        """A fresh engine of the same class (patterns run branches in one); override if __init__ needs args."""
        return type(self)()

    # -- what tasks call ------------------------------------------------------
    def continue_next_token(self) -> None:
        """Stop this token here and go on with the next."""
        raise ContinueNextToken

    def stop(self) -> None:
        """Stop the run after this token (the run still finishes normally)."""
        raise StopProcessing

    def halt(self, msg: str = "", action: str | None = None, payload: Any = None) -> None:
        """Halt the run (and any parent engine); it can be restarted where it stopped."""
        raise HaltProcessing(msg, action=action, payload=payload)

    def break_current_loop(self) -> None:
        """Leave the current task list and continue after it."""
        raise BreakFromThisLoop

    @staticmethod
    def jump_token(offset: int) -> None:
        """Continue with the token ``offset`` away from this one (1 = next)."""
        raise JumpToken(offset)

    def jump_call(self, offset: int) -> None:
        """Continue with the task ``offset`` away in the current list (may be negative)."""
        raise JumpCall(offset)

    @staticmethod
    def abort() -> None:
        """Abort the run without marking the current token completed."""
        raise AbortProcessing

    @staticmethod
    def skip_token() -> None:
        """Skip the current token without marking it completed."""
        raise SkipToken

    # -- running ---------------------------------------------------------------
    def process(self, objects: Any, stop_on_error: bool = True, stop_on_halt: bool = True,
                initial_run: bool = True, reset_state: bool = True) -> None:
        """Run every token of ``objects`` through the task lists.

        With ``stop_on_halt``/``stop_on_error`` False a halted or failed (WorkflowError)
        token is left behind and the run goes on with the next. ``reset_state=False``
        continues from the current machine state."""
        objects = self._pre_flight_checks(objects)
        if reset_state:
            self.state.reset()
        while True:
            try:
                if initial_run:
                    initial_run = False
                    self._process(objects)
                else:
                    self.restart("next", "first")
                return
            except HaltProcessing:
                if stop_on_halt:
                    raise
            except WorkflowError:
                if stop_on_error:
                    raise

    def restart(self, obj: str, task: str, objects: Any = None, stop_on_error: bool = True,
                stop_on_halt: bool = True) -> None:
        """Continue processing from a token and task relative to the current state.

        ``obj`` and ``task`` are each one of "prev", "current", "next", "first";
        ``restart("next", "first")`` goes on with the next token from its first task."""
        if obj not in _TOKEN_MOVES:
            raise WorkflowAPIError(f"Unknown start point {obj!r} for object; use one of {_TOKEN_MOVES}")
        if task not in _TOKEN_MOVES:
            raise WorkflowAPIError(f"Unknown start point {task!r} for task; use one of {_TOKEN_MOVES}")
        new_objects = objects if objects else self.objects
        self.log.debug("Restarting workflow from %s object and %s task", obj, task)
        state = self.state
        # token_pos must point just before the token to process: it is incremented first.
        if obj == "prev":
            state.token_pos = max(-1, state.token_pos - 2)
        elif obj == "current":
            state.token_pos = max(-1, state.token_pos - 1)
        elif obj == "first":
            state.token_pos = -1
        if task == "prev":
            state.callback_pos[-1] = max(0, state.callback_pos[-1] - 1)
        elif task == "next":
            state.callback_pos[-1] += 1
        elif task == "first":
            state.callback_pos = [0]
        self.process(new_objects, stop_on_error=stop_on_error, stop_on_halt=stop_on_halt,
                     reset_state=False)

    def callback_chooser(self, obj: Any) -> Any:
        """The task list for ``obj`` (override to pick one by the token's type)."""
        if hasattr(obj, "getFeature"):  # the seed's deprecated token protocol
            import warnings
            warnings.warn("Support for `getFeature` will be removed", DeprecationWarning, stacklevel=2)
            t = obj.getFeature("type")
            if t:
                return self.callbacks.get(t)
            return None
        return self.callbacks.get("*")

    def execute_callback(self, callback: Any, obj: Any) -> None:
        """Run one task (override for per-task behaviour; doing so selects the per-task path)."""
        callback(obj, self)

    def run_callbacks(self, callbacks: Any, objects: Any, obj: Any, indent: int = 0) -> None:
        """Run the (nested) task list ``callbacks`` on ``obj`` from ``state.callback_pos``."""
        self._run(self._compiled(callbacks), obj, indent)

    def _pre_flight_checks(self, objects: Any) -> Any:
        if not isinstance(objects, Iterable) or isinstance(objects, (str, bytes)):
            raise WorkflowError(f"Passed in object {objects.__class__} is not an iterable")
        if not isinstance(objects, Sequence):
            objects = list(objects)  # generators, sets: the engine indexes its tokens
        if not objects:
            self.log.warning("List of objects is empty. Running workflow on empty set has no effect.")
        if self.callbacks.empty():
            raise WorkflowError("The callbacks are empty, did you set them?")
        return objects

    def _refresh_mode(self) -> None:
        """Choose between the bare task loop and the per-task path (hooks, debug log, overrides)."""
        mapper = self.processing_factory.action_mapper
        before: list[Any] = []
        after: list[Any] = []
        if mapper.before_each_callback is not ActionMapper.before_each_callback:
            before.append(mapper.before_each_callback)
        if mapper.after_each_callback is not ActionMapper.after_each_callback:
            seed_after = mapper.after_each_callback
            after.append(lambda eng, cb, obj, exc: seed_after(eng, cb, obj))
        before.extend(self.hooks.before_callback)
        after.extend(self.hooks.after_callback)
        is_enabled = getattr(self.log, "isEnabledFor", None)
        debug = bool(is_enabled and is_enabled(logging.DEBUG))
        custom_execute = type(self).execute_callback is not WorkflowEngine.execute_callback
        # Loops may skip calling their jump task only while jump_call is ours.
        self._native_jumps = type(self).jump_call is WorkflowEngine.jump_call
        if before or after or debug or custom_execute:
            self._per_task = (tuple(before), tuple(after), debug)
        else:
            self._per_task = None

    def _compiled(self, callbacks: Any) -> Block:
        cache = self._compiled_cache
        entry = cache.get(id(callbacks))
        version = self.callbacks.version
        if (entry is not None and entry[0] is callbacks and entry[2] == len(callbacks)
                and entry[3] == version):
            return entry[1]
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        block = compile_block(callbacks)
        cache[id(callbacks)] = (callbacks, block, len(callbacks), version)
        return block

    def _process(self, objects: Any) -> None:
        """Take the tokens after ``state.token_pos`` one by one through their task lists."""
        self._refresh_mode()
        factory = self.processing_factory
        mapper = factory.action_mapper
        hooks = self.hooks
        state = self.state
        # Default hooks are no-ops: skip calling them (a few hundred ns per token).
        before_object = factory.before_object
        if before_object is ProcessingFactory.before_object:
            before_object = None
        after_object = factory.after_object
        if after_object is ProcessingFactory.after_object:
            after_object = None
        before_callbacks = mapper.before_callbacks
        if before_callbacks is ActionMapper.before_callbacks:
            before_callbacks = None
        after_callbacks = mapper.after_callbacks
        if after_callbacks is ActionMapper.after_callbacks:
            after_callbacks = None
        chooser = self.callback_chooser
        run = self.run_callbacks

        factory.before_processing(self, objects)
        for hook in hooks.before_processing:
            hook(self, objects)
        while len(objects) - 1 > state.token_pos:
            state.token_pos += 1
            obj = objects[state.token_pos]
            if before_object is not None:
                before_object(self, objects, obj)
            for hook in hooks.before_object:
                hook(self, objects, obj)
            callbacks = chooser(obj)
            if callbacks:
                self._current_callbacks = callbacks
                if before_callbacks is not None:
                    before_callbacks(obj, self)
                try:
                    try:
                        run(callbacks, objects, obj)
                    finally:
                        if after_callbacks is not None:
                            after_callbacks(obj, self)
                except Exception as exc:
                    try:
                        self._handle_transition(obj, callbacks, exc)
                    except Break:
                        break
                    except Continue:
                        continue
                else:
                    if after_object is not None:
                        after_object(self, objects, obj)
                    for hook in hooks.after_object:
                        hook(self, objects, obj)
            state.callback_pos = [0]
        factory.after_processing(self, objects)
        for hook in hooks.after_processing:
            hook(self, objects)

    def _handle_transition(self, obj: Any, callbacks: Any, exc: Exception) -> None:
        self.last_exception = exc
        for hook in self.hooks.transition:
            hook(self, obj, exc)
        mapper = self.processing_factory.transition_exception_mapper
        find_transition_handler(mapper, type(exc))(obj, self, callbacks, exc)

    def _run(self, block: Block, obj: Any, indent: int) -> None:
        """The hot loop: run ``block`` on ``obj`` from ``callback_pos[indent]``."""
        pos = self.state.callback_pos
        calls = block.calls
        n = len(calls)
        i = pos[indent]
        if len(pos) - 1 > indent:
            i = self._resume(block, obj, indent, pos, i)
        per_task = self._per_task
        while True:
            try:
                if per_task is None:
                    end = block.loop_end if self._native_jumps else n
                    while True:
                        while i < end:
                            pos[indent] = i
                            calls[i](obj, self)
                            i += 1
                        if i != end or end == n:
                            break
                        i = block.loop_to  # the loop's own backward jump, without raising
                else:
                    before, after, debug = per_task
                    blocks = block.blocks
                    execute = self.execute_callback
                    while i < n:
                        pos[indent] = i
                        callback = calls[i]
                        if blocks[i] is not None:
                            callback(obj, self)
                        else:
                            if debug:
                                self.log.debug("Running (%s%s.) callback %s for obj: %r", "-" * indent,
                                               pos, _task_name(callback), obj)
                            for hook in before:
                                hook(self, callback, obj)
                            try:
                                execute(callback, obj)
                            except BaseException as exc:
                                for hook in after:
                                    hook(self, callback, obj, exc)
                                raise
                            for hook in after:
                                hook(self, callback, obj, None)
                        i += 1
                break
            except BreakFromThisLoop as exc:
                if self.hooks.transition:
                    self._notify(obj, exc)
                return  # the position stays on the task that broke out
            except JumpCall as exc:
                if self.hooks.transition:
                    self._notify(obj, exc)
                step = exc.args[0]
                # Offsets are relative to the jumping task; going before the start clamps to 0.
                if step >= 0:
                    i = min(n, i + step - 1) + 1
                else:
                    i = max(-1, i + step - 1) + 1
        pos[indent] = i - 1  # a finished list points at its last task

    def _resume(self, block: Block, obj: Any, indent: int, pos: list[int], i: int) -> int:
        """Re-enter the nested list ``pos`` points into (after a halt or a restart)."""
        sub = block.blocks[i] if 0 <= i < len(block.blocks) else None
        if sub is None:
            raise WorkflowError(f"callback_pos {pos} does not match the workflow: entry {i} at "
                                f"depth {indent} is not a nested task list")
        self.log.debug("Fast-forwarding to the position:callback = %s:%s", indent, i)
        self._run(sub, obj, indent + 1)
        pos.pop()
        return i + 1

    def _notify(self, obj: Any, exc: BaseException) -> None:
        for hook in self.hooks.transition:
            hook(self, obj, exc)

    # -- inspecting -------------------------------------------------------------
    @property
    def current_object(self) -> Any:
        """The token being (or last) processed, None before the first."""
        pos = self.state.token_pos
        if pos < 0 or pos >= len(self.objects):
            return None
        return self.objects[pos]

    @property
    def has_completed(self) -> bool:
        """True when the run went through its last token."""
        if self.state.token_pos == -1:
            return False
        return len(self.objects) - 1 == self.state.token_pos and bool(self.state.current_object_processed)

    @property
    def current_taskname(self) -> str | None:
        """Name of the task at ``state.callback_pos`` (the list's text when it points at a list)."""
        node = self._current_callbacks
        if node is None:
            try:
                node = self.callbacks.get("*")
            except KeyError:
                return None
        if not node:
            return None
        for i in self.state.callback_pos:
            if not isinstance(node, (list, tuple)):
                break
            if not 0 <= i < len(node):
                return None
            node = node[i]
        if isinstance(node, (list, tuple)):
            return str(node)
        return _task_name(node)
