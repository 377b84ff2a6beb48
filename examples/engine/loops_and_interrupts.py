"""The seed's FOR / IF_ELSE / CMP example that halts, restarts itself and is resumed."""
from kg.engine import GenericWorkflowEngine
from kg.engine.errors import HaltProcessing
from kg.engine.patterns.controlflow import (
    FOR,        # Simple for-loop, a-la python. First argument is an iterable,
                # second defines where to save the current value, and the third
                # is the code that runs in the loop.

    HALT,       # Halts the engine. This brings it to a state where it can be
                # inspected, resumed, restarted, or other.

    IF_ELSE,    # Simple `if-else` statement that accepts 3 arguments.
                # (condition, tasks if true, tasks if false)

    CMP,        # Simple function to support python comparisons directly from a
                # workflow engine.
)


def append_from(key):
    """Append data from a given `key` of the engine's `extra_data`."""
    def _append_from(obj, eng):
        obj.append(eng.extra_data[key])
        print("new data:", obj)
    return _append_from

def interrupt_workflow(obj, eng):
    """Raise the `HaltProcessing` exception.

    This is not handled by the engine and bubbles up to our code.
    """
    print("Raising HaltProcessing")
    eng.halt("interrupting this workflow.")

def restart_workflow(obj, eng):
    """Restart the engine with the current object, from the first task."""
    print("Restarting the engine")
    eng.restart('current', 'first')

my_workflow = [
    FOR(range(2), "my_current_value", # For-loop, from 0 to 1, that sets
                                      # the current value to
                                      # `eng.extra_data["my_current_value"]`
        [
            append_from("my_current_value"),  # Gets the value set above
                                              # and appends it to our token
        ]
    ), # END FOR

    IF_ELSE(
        CMP((lambda o, e: o), [0, 1 ,0, 1], "<"),  # Condition:
                                                   # "if obj < [0,1,0,1]:"

        [ restart_workflow ],                   # Tasks to run if condition
                                                # is True:
                                                # "return back to the FOR"

        [                                       # Tasks to run if condition
                                                # is False:

        append_from("my_current_value"),        # "append 1 (note we still
                                                # have access to it)
        interrupt_workflow                      # and interrupt"
        ]
    ) # END IF_ELSE
]

# Create the engine as in the previous example
my_engine = GenericWorkflowEngine()
my_engine.callbacks.replace(my_workflow)

try:
    # Note how we don't need to keep a reference to our tokens - the engine
    # allows us to access them via `my_engine.objects` later.
    my_engine.process([[], [0,1], [0,1,0,1]])
except HaltProcessing:
    # Our engine was built to throw this exception every time an object is
    # completed. At this point we can inspect the object to decide what to
    # do next. In any case, we will ask it to move to the next object,
    # until it stops throwing the exception (which, in our case, means it
    # has finished with all objects).
    while True:
        try:
            # Restart the engine with the next object, starting from the
            # first task.
            my_engine.restart('next', 'first')
        except HaltProcessing:
            continue
        else:
            print("Done!", my_engine.objects)
            break
