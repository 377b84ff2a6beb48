"""The seed's basic example: tokens wrapped in objects, two tasks, an engine reused."""
from kg.engine import GenericWorkflowEngine
my_engine = GenericWorkflowEngine()

from functools import wraps

def print_data(obj, eng):
    """Print the data found in the token."""
    print(obj.data)

def add_data(number_to_add):
    """Add number_to_add to obj.data."""
    @wraps(add_data)
    def _add_data(obj, eng):
        obj.data += number_to_add
    return _add_data

my_workflow_definition = [
    add_data(1),
    print_data
]

class MyObject(object):
    def __init__(self, data):
        self.data = data

my_object0 = MyObject(0)
my_object1 = MyObject(1)

my_engine.callbacks.replace(my_workflow_definition)

my_engine.process([my_object0, my_object1])
# The engine prints: "1\n2"
my_object0.data == 1
my_object1.data == 2

my_engine.process([my_object0, my_object1])
# The engine prints: "2\n3"
my_object0.data == 2
my_object1.data == 3
