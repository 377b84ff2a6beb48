"""The seed's storage-capable engine example: a student's grades checked, halted, reloaded, resumed.

Besides the imports (``workflow.*`` -> ``kg.engine.*``), two lines follow SQLAlchemy 2,
which dropped bound metadata: ``declarative_base()`` without ``bind=`` and
``create_all(engine)``; and ``save`` commits without the removed ``subtransactions``."""
from sqlalchemy.orm import declarative_base
from sqlalchemy import Column, Integer, String, create_engine, ForeignKey, Boolean
from sqlalchemy.orm import sessionmaker, relationship

from kg.engine.persistent import DbWorkflowEngine
from kg.engine.errors import HaltProcessing
from kg.engine import TransitionActions, ProcessingFactory
from kg.engine.patterns.controlflow import IF, HALT
from kg.engine.utils import staticproperty

# Create an engine and a session
engine = create_engine('sqlite://')
Base = declarative_base()
DBSession = sessionmaker(bind=engine)
session = DBSession()

class Workflow(Base):
    __tablename__ = 'workflow'
    id = Column(Integer, primary_key=True)
    state_token_pos = Column(Integer, default=-1)
    grades = relationship('Grade', backref='workflow',
                           cascade="all, delete, delete-orphan")

    def save(self, token_pos):
        """Save object to persistent storage."""
        self.state_token_pos = token_pos
        try:
            session.add(self)
            session.commit()
        except Exception:
            session.rollback()
            raise

class Grade(Base):
    __tablename__ = 'grade'
    id = Column(Integer, primary_key=True)
    data = Column(Integer, nullable=False, default=0)
    user_id = Column(Integer, ForeignKey('workflow.id'))

    def __init__(self, grade):
        self.data = grade

Base.metadata.create_all(engine)


class MyDbWorkflowEngine(DbWorkflowEngine):

    def __init__(self, db_obj):
        """Load an old `token_pos` from the db into the engine."""

        # The reason we save token_pos _first_, is because calling `super`
        # will reset.
        token_pos = db_obj.state_token_pos

        self.db_obj = db_obj
        super(DbWorkflowEngine, self).__init__()

        # And now we inject it back into the engine's `state`.
        if token_pos is not None:
            self.state.token_pos = token_pos

    # For this example we are interested in saving `token_pos` as explained
    # previously, so we override `save` to do that.
    def save(self, token_pos=None):
        """Save the state of the workflow."""
        if token_pos is not None:
            self.state.token_pos = token_pos
        self.db_obj.save(self.state.token_pos)

    # We want our own processing factory, so we tell the engine that we
    # have subclassed it below.
    @staticproperty
    def processing_factory():
        """Provide a processing factory."""
        return MyProcessingFactory

class MyProcessingFactory(ProcessingFactory):
    """Processing factory for persistence requirements."""

    # We also have our own `transition_actions`
    @staticproperty
    def transition_exception_mapper():
        """Define our for handling transition exceptions."""
        return MyTransitionActions

    # Before any processing is done, we wish to save the `objects` (tokens)
    # that have been passed to the engine, if they aren't already stored.
    @staticmethod
    def before_processing(eng, objects):
        """Make sure the engine has a relationship with
        its objects."""
        if not eng.db_obj.grades:
            for obj in objects:
                eng.db_obj.grades.append(obj)
            eng.save()
        super(MyProcessingFactory, MyProcessingFactory).before_processing(eng, objects)

    # We wish to save on every successful completion of a token.
    @staticmethod
    def after_processing(eng, objects):
        """Save after we processed all the objects successfully."""
        super(MyProcessingFactory, MyProcessingFactory).after_processing(eng, objects)
        eng.save()

class MyTransitionActions(TransitionActions):

    # But we also wish to save when `HaltProcessing` is raised, because this
    # is going to be an expected situation.
    @staticmethod
    def HaltProcessing(obj, eng, callbacks, e):
        """Save whenever HaltProcessing is raised, so
        that we don't lose the state."""
        eng.save()
        raise e


my_workflow_instance = Workflow()
my_db_engine = MyDbWorkflowEngine(my_workflow_instance)

def grade_is_not_passing(obj, eng):
    print('Testing grade #{0}, with data {1}'.format(obj.id, obj.data))
    return obj.data < 5

callbacks = [
    IF(grade_is_not_passing,
        [
            HALT()
        ]),
]

my_db_engine.callbacks.replace(callbacks)
try:
    my_db_engine.process([
        Grade(6), Grade(5), Grade(4),
        Grade(5), Grade(2), Grade(6)
    ])
except HaltProcessing:
    print('The student has failed this test!')

# At this point, the engine has already saved its state in the database,
# regardless of the outcome.


def amend_grade(obj, eng):
    print('Amending this grade..')
    obj.data = 5

evil_callbacks = [
    IF(grade_is_not_passing,
        [
            amend_grade
        ]),
]

# Load yesterday's workflow and bring up an engine for it.
revived_workflow = session.query(Workflow).one()
my_db_engine = MyDbWorkflowEngine(revived_workflow)
my_db_engine.callbacks.replace(evil_callbacks)

print('\nWhat Zak sees:', [grade.data for grade in revived_workflow.grades])

# Let's fix that.
print('Note how the engine resumes from the last failing test:')
my_db_engine.restart('current', 'first', objects=revived_workflow.grades)


revived_workflow = session.query(Workflow).one()
print('\nWhat the professor sees:', [grade.data for grade in revived_workflow.grades])
