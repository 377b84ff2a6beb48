% provkg facts: load with the rules, e.g. swipl kg/data/prolog/rules.pl facts.pl
% Predicates and arities: docs/exports.md. Written for SWI-Prolog 7 or later.
:- encoding(utf8).
:- dynamic((node/3, prop/3, edge_prop/6, used/4, was_generated_by/4, was_associated_with/4, was_attributed_to/4, was_derived_from/4, was_informed_by/4, was_started_by/4, was_ended_by/4, was_invalidated_by/4, acted_on_behalf_of/4, had_member/4, specialization_of/4, alternate_of/4, was_influenced_by/4)).
:- multifile((node/3, prop/3, edge_prop/6, used/4, was_generated_by/4, was_associated_with/4, was_attributed_to/4, was_derived_from/4, was_informed_by/4, was_started_by/4, was_ended_by/4, was_invalidated_by/4, acted_on_behalf_of/4, had_member/4, specialization_of/4, alternate_of/4, was_influenced_by/4)).
:- discontiguous((node/3, prop/3, edge_prop/6, used/4, was_generated_by/4, was_associated_with/4, was_attributed_to/4, was_derived_from/4, was_informed_by/4, was_started_by/4, was_ended_by/4, was_invalidated_by/4, acted_on_behalf_of/4, had_member/4, specialization_of/4, alternate_of/4, was_influenced_by/4)).

node('person-3', agent, 'Person').
prop('person-3', 'host', "<host>").
prop('person-3', 'name', "root").
node('run-0', activity, 'Run').
prop('run-0', 'args', json("{\"n\":2}")).
prop('run-0', 'pid', "<pid>").
prop('run-0', 'host', "<host>").
prop('run-0', 'user', "<user>").
prop('run-0', 'python', "<python>").
prop('run-0', 'argv', "<argv>").
prop('run-0', 'cwd', "<cwd>").
prop('run-0', 'duration', "<duration>").
prop('run-0', 'run', 'run-0').
prop('run-0', 'name', "demo capture").
prop('run-0', 'status', "finished").
prop('run-0', 'started', 1700000000.0).
prop('run-0', 'ended', 1700000000.0).
prop('run-0', 'seq', 1).
node('softwareagent-4', agent, 'SoftwareAgent').
prop('softwareagent-4', 'version', "<version>").
prop('softwareagent-4', 'name', "provkg").
node('task-1', activity, 'Task').
prop('task-1', 'duration', "<duration>").
prop('task-1', 'run', 'run-0').
prop('task-1', 'name', "captured_store.<locals>.add").
prop('task-1', 'status', "FINISHED").
prop('task-1', 'parent', 'run-0').
prop('task-1', 'started', 1700000000.0).
prop('task-1', 'ended', 1700000000.0).
node('task-1/in/a', entity, 'Value').
prop('task-1/in/a', 'name', "a").
prop('task-1/in/a', 'value', 1).
prop('task-1/in/a', 'run', 'run-0').
node('task-1/in/b', entity, 'Value').
prop('task-1/in/b', 'name', "b").
prop('task-1/in/b', 'value', 2).
prop('task-1/in/b', 'run', 'run-0').
node('task-1/out/total', entity, 'Value').
prop('task-1/out/total', 'name', "total").
prop('task-1/out/total', 'value', 3).
prop('task-1/out/total', 'run', 'run-0').
node('task-2', activity, 'Task').
prop('task-2', 'duration', "<duration>").
prop('task-2', 'run', 'run-0').
prop('task-2', 'name', "captured_store.<locals>.double").
prop('task-2', 'status', "FINISHED").
prop('task-2', 'parent', 'run-0').
prop('task-2', 'started', 1700000000.0).
prop('task-2', 'ended', 1700000000.0).
node('task-2/out/doubled', entity, 'Value').
prop('task-2/out/doubled', 'name', "doubled").
prop('task-2/out/doubled', 'value', 6).
prop('task-2/out/doubled', 'run', 'run-0').
acted_on_behalf_of('softwareagent-4', 'person-3', null, null).
edge_prop(acted_on_behalf_of, 'softwareagent-4', 'person-3', null, 'run', 'run-0').
used('task-1', 'task-1/in/a', 1700000000.0, "a").
edge_prop(used, 'task-1', 'task-1/in/a', "a", 'run', 'run-0').
used('task-1', 'task-1/in/b', 1700000000.0, "b").
edge_prop(used, 'task-1', 'task-1/in/b', "b", 'run', 'run-0').
used('task-2', 'task-1/out/total', 1700000000.0, "x").
edge_prop(used, 'task-2', 'task-1/out/total', "x", 'run', 'run-0').
was_associated_with('run-0', 'person-3', null, "user").
edge_prop(was_associated_with, 'run-0', 'person-3', "user", 'run', 'run-0').
was_associated_with('run-0', 'softwareagent-4', null, "capture").
edge_prop(was_associated_with, 'run-0', 'softwareagent-4', "capture", 'run', 'run-0').
was_generated_by('task-1/out/total', 'task-1', 1700000000.0, "total").
edge_prop(was_generated_by, 'task-1/out/total', 'task-1', "total", 'run', 'run-0').
was_generated_by('task-2/out/doubled', 'task-2', 1700000000.0, "doubled").
edge_prop(was_generated_by, 'task-2/out/doubled', 'task-2', "doubled", 'run', 'run-0').
was_informed_by('task-1', 'run-0', null, "parent").
edge_prop(was_informed_by, 'task-1', 'run-0', "parent", 'run', 'run-0').
was_informed_by('task-2', 'run-0', null, "parent").
edge_prop(was_informed_by, 'task-2', 'run-0', "parent", 'run', 'run-0').
