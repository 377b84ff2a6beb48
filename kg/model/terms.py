"""The PROV vocabulary as provkg stores it: classes, kind labels, relations and their qualifiers."""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = [
    "ProvClass",
    "Kind",
    "Relation",
    "RelationSpec",
    "RELATIONS",
    "relation",
    "LINEAGE_RELATIONS",
    "KG_NS",
    "PROV_NS",
    "TOP_LEVEL_KINDS",
]

PROV_NS = "http://www.w3.org/ns/prov#"
KG_NS = "https://provkg.dev/ns/kg#"


class ProvClass(str, Enum):
    """The three PROV-DM core types; every node has exactly one."""

    ENTITY = "Entity"
    ACTIVITY = "Activity"
    AGENT = "Agent"


class Kind(str, Enum):
    """Our kind labels (one per node, beside its PROV class). Declared in ontology/kg.ttl."""

    # activities
    RUN = "Run"                  # a captured program run (in-code capture)
    TRIAL = "Trial"              # a `kg run` script run
    RUN_PART = "RunPart"         # one process's part of a run that several processes joined
    TASK = "Task"                # a decorated or hand-made task, a loop iteration
    LOOP = "Loop"                # an instrumented loop as a whole
    ACTIVATION = "Activation"    # a traced function call inside a trial
    WORKFLOW_RUN = "WorkflowRun"  # one engine.process() call
    CALLBACK = "Callback"        # one engine callback applied to one token
    RESTORE = "Restore"          # a `kg restore`
    FILE_ACCESS = "FileAccess"   # one open/write/rename/delete of a file inside a trial
    # entities
    VALUE = "Value"              # an argument or return value (summarised)
    VARIABLE = "Variable"        # one version of a script variable (`kg run --dataflow`)
    FILE = "File"                # a path, whose versions specialise it
    FILE_VERSION = "FileVersion"  # a file's content at one moment (content hash)
    MODULE = "Module"            # an imported module with version and hash
    SCRIPT = "Script"            # the script or local module source of a trial (a Plan)
    DEFINITION = "Definition"    # a function/class/global defined in a script
    ENVIRONMENT = "Environment"  # an environment attribute
    CAMPAIGN = "Campaign"        # a collection of runs
    ANNOTATION = "Annotation"    # a person's note on a run, trial or any node (kg annotate)
    WORKFLOW = "Workflow"        # a persistent engine workflow (state)
    TOKEN = "Token"              # an object moving through a workflow (one version)
    PLAN = "Plan"
    # agents
    PERSON = "Person"
    SOFTWARE_AGENT = "SoftwareAgent"
    HOST = "Host"
    WORKER = "Worker"


# Kinds that are numbered (1, 2, 3, ...) by the store and listed by `kg list`.
TOP_LEVEL_KINDS = frozenset({Kind.RUN.value, Kind.TRIAL.value})


class Relation(str, Enum):
    """PROV relations, Neo4j-style. An edge goes from the PROV subject to its object."""

    USED = "USED"
    WAS_GENERATED_BY = "WAS_GENERATED_BY"
    WAS_ASSOCIATED_WITH = "WAS_ASSOCIATED_WITH"
    WAS_ATTRIBUTED_TO = "WAS_ATTRIBUTED_TO"
    WAS_DERIVED_FROM = "WAS_DERIVED_FROM"
    WAS_INFORMED_BY = "WAS_INFORMED_BY"
    WAS_STARTED_BY = "WAS_STARTED_BY"
    WAS_ENDED_BY = "WAS_ENDED_BY"
    WAS_INVALIDATED_BY = "WAS_INVALIDATED_BY"
    ACTED_ON_BEHALF_OF = "ACTED_ON_BEHALF_OF"
    HAD_MEMBER = "HAD_MEMBER"
    SPECIALIZATION_OF = "SPECIALIZATION_OF"
    ALTERNATE_OF = "ALTERNATE_OF"
    WAS_INFLUENCED_BY = "WAS_INFLUENCED_BY"


@dataclass(frozen=True)
class RelationSpec:
    """How a relation maps to PROV-JSON/PROV-O: its section, and the roles of source and target."""

    rel: Relation
    provjson: str        # PROV-JSON section name, e.g. "used"
    src_key: str         # PROV-JSON key of the edge's source, e.g. "prov:activity"
    dst_key: str         # PROV-JSON key of the edge's target, e.g. "prov:entity"
    src_class: ProvClass
    dst_class: ProvClass
    prov_o: str          # PROV-O property linking source to target
    extra_keys: tuple[str, ...] = ()  # other PROV-JSON keys (qualifiers) that name nodes


_E, _A, _G = ProvClass.ENTITY, ProvClass.ACTIVITY, ProvClass.AGENT
RELATIONS: dict[Relation, RelationSpec] = {
    s.rel: s
    for s in (
        RelationSpec(Relation.USED, "used", "prov:activity", "prov:entity", _A, _E, "used"),
        RelationSpec(Relation.WAS_GENERATED_BY, "wasGeneratedBy", "prov:entity", "prov:activity", _E, _A,
                     "wasGeneratedBy"),
        RelationSpec(Relation.WAS_ASSOCIATED_WITH, "wasAssociatedWith", "prov:activity", "prov:agent", _A, _G,
                     "wasAssociatedWith", ("prov:plan",)),
        RelationSpec(Relation.WAS_ATTRIBUTED_TO, "wasAttributedTo", "prov:entity", "prov:agent", _E, _G,
                     "wasAttributedTo"),
        RelationSpec(Relation.WAS_DERIVED_FROM, "wasDerivedFrom", "prov:generatedEntity", "prov:usedEntity", _E, _E,
                     "wasDerivedFrom", ("prov:activity", "prov:generation", "prov:usage")),
        RelationSpec(Relation.WAS_INFORMED_BY, "wasInformedBy", "prov:informed", "prov:informant", _A, _A,
                     "wasInformedBy"),
        RelationSpec(Relation.WAS_STARTED_BY, "wasStartedBy", "prov:activity", "prov:trigger", _A, _E,
                     "wasStartedBy", ("prov:starter",)),
        RelationSpec(Relation.WAS_ENDED_BY, "wasEndedBy", "prov:activity", "prov:trigger", _A, _E,
                     "wasEndedBy", ("prov:ender",)),
        RelationSpec(Relation.WAS_INVALIDATED_BY, "wasInvalidatedBy", "prov:entity", "prov:activity", _E, _A,
                     "wasInvalidatedBy"),
        RelationSpec(Relation.ACTED_ON_BEHALF_OF, "actedOnBehalfOf", "prov:delegate", "prov:responsible", _G, _G,
                     "actedOnBehalfOf", ("prov:activity",)),
        RelationSpec(Relation.HAD_MEMBER, "hadMember", "prov:collection", "prov:entity", _E, _E, "hadMember"),
        RelationSpec(Relation.SPECIALIZATION_OF, "specializationOf", "prov:specificEntity", "prov:generalEntity",
                     _E, _E, "specializationOf"),
        RelationSpec(Relation.ALTERNATE_OF, "alternateOf", "prov:alternate1", "prov:alternate2", _E, _E,
                     "alternateOf"),
        RelationSpec(Relation.WAS_INFLUENCED_BY, "wasInfluencedBy", "prov:influencee", "prov:influencer", _E, _E,
                     "wasInfluencedBy"),
    )
}

# Relations followed by lineage: src depends on dst (upstream = follow src -> dst).
LINEAGE_RELATIONS = frozenset(
    r.value
    for r in (
        Relation.USED,
        Relation.WAS_GENERATED_BY,
        Relation.WAS_DERIVED_FROM,
        Relation.WAS_INFORMED_BY,
        Relation.WAS_INFLUENCED_BY,
        Relation.WAS_STARTED_BY,
    )
)


def relation(name: str) -> Relation:
    """Parse a relation from its graph name (``USED``) or its PROV name (``used``)."""
    try:
        return Relation(name)
    except ValueError:
        for spec in RELATIONS.values():
            if spec.provjson == name:
                return spec.rel
    from kg.exceptions import InputError

    raise InputError(f"unknown PROV relation {name!r}")
