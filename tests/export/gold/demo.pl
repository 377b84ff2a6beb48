% provkg facts: load with the rules, e.g. swipl kg/data/prolog/rules.pl facts.pl
% Predicates and arities: docs/exports.md. Written for SWI-Prolog 7 or later.
:- encoding(utf8).
:- dynamic((node/3, prop/3, edge_prop/6, used/4, was_generated_by/4, was_associated_with/4, was_attributed_to/4, was_derived_from/4, was_informed_by/4, was_started_by/4, was_ended_by/4, was_invalidated_by/4, acted_on_behalf_of/4, had_member/4, specialization_of/4, alternate_of/4, was_influenced_by/4)).
:- multifile((node/3, prop/3, edge_prop/6, used/4, was_generated_by/4, was_associated_with/4, was_attributed_to/4, was_derived_from/4, was_informed_by/4, was_started_by/4, was_ended_by/4, was_invalidated_by/4, acted_on_behalf_of/4, had_member/4, specialization_of/4, alternate_of/4, was_influenced_by/4)).
:- discontiguous((node/3, prop/3, edge_prop/6, used/4, was_generated_by/4, was_associated_with/4, was_attributed_to/4, was_derived_from/4, was_informed_by/4, was_started_by/4, was_ended_by/4, was_invalidated_by/4, acted_on_behalf_of/4, had_member/4, specialization_of/4, alternate_of/4, was_influenced_by/4)).

node('access:1', activity, 'FileAccess').
prop('access:1', 'run', 'run-2').
prop('access:1', 'name', "access").
node('act:load', activity, 'Activation').
prop('act:load', 'line', 11).
prop('act:load', 'run', 'trial-1').
prop('act:load', 'name', "load").
prop('act:load', 'parent', 'act:main').
prop('act:load', 'started', 1700000001.0).
prop('act:load', 'ended', 1700000001.5).
node('act:load/in/path', entity, 'Value').
prop('act:load/in/path', 'name', "path").
prop('act:load/in/path', 'value', "data.csv").
prop('act:load/in/path', 'run', 'trial-1').
node('act:load/out/return', entity, 'Value').
prop('act:load/out/return', 'name', "return").
prop('act:load/out/return', 'value', json("{\"type\":\"list\",\"size\":3}")).
prop('act:load/out/return', 'run', 'trial-1').
node('act:log', activity, 'Activation').
prop('act:log', 'line', 15).
prop('act:log', 'run', 'trial-1').
prop('act:log', 'name', "log").
prop('act:log', 'parent', 'act:main').
prop('act:log', 'started', 1700000005.0).
prop('act:log', 'ended', 1700000005.5).
node('act:log/in/msg', entity, 'Value').
prop('act:log/in/msg', 'name', "msg").
prop('act:log/in/msg', 'value', "done").
prop('act:log/in/msg', 'run', 'trial-1').
node('act:main', activity, 'Activation').
prop('act:main', 'line', 10).
prop('act:main', 'run', 'trial-1').
prop('act:main', 'name', "main").
prop('act:main', 'parent', 'trial-1').
prop('act:main', 'started', 1700000000.0).
prop('act:main', 'ended', 1700000000.5).
node('act:report', activity, 'Activation').
prop('act:report', 'line', 14).
prop('act:report', 'run', 'trial-1').
prop('act:report', 'name', "report").
prop('act:report', 'parent', 'act:main').
prop('act:report', 'started', 1700000004.0).
prop('act:report', 'ended', 1700000004.5).
node('act:report/out/return', entity, 'Value').
prop('act:report/out/return', 'name', "return").
prop('act:report/out/return', 'value', 0).
prop('act:report/out/return', 'run', 'trial-1').
node('act:transform', activity, 'Activation').
prop('act:transform', 'line', 12).
prop('act:transform', 'run', 'trial-1').
prop('act:transform', 'name', "transform").
prop('act:transform', 'parent', 'act:main').
prop('act:transform', 'started', 1700000002.0).
prop('act:transform', 'ended', 1700000002.5).
node('act:transform/in/rows', entity, 'Value').
prop('act:transform/in/rows', 'name', "rows").
prop('act:transform/in/rows', 'value', json("{\"type\":\"list\",\"size\":3}")).
prop('act:transform/in/rows', 'run', 'trial-1').
node('act:transform/out/return', entity, 'Value').
prop('act:transform/out/return', 'name', "return").
prop('act:transform/out/return', 'run', 'trial-1').
node('act:update', activity, 'Activation').
prop('act:update', 'line', 13).
prop('act:update', 'run', 'trial-1').
prop('act:update', 'name', "update").
prop('act:update', 'parent', 'act:main').
prop('act:update', 'started', 1700000003.0).
prop('act:update', 'ended', 1700000003.5).
node('agent:bob', agent, 'Person').
prop('agent:bob', 'run', 'run-2').
prop('agent:bob', 'name', "agent").
node('agent:person:alice', agent, 'Person').
prop('agent:person:alice', 'name', "alice").
node('agent:provkg', agent, 'SoftwareAgent').
prop('agent:provkg', 'version', "0.1.0").
prop('agent:provkg', 'name', "provkg").
node('agent:sw', agent, 'SoftwareAgent').
prop('agent:sw', 'run', 'run-2').
prop('agent:sw', 'name', "agent").
node('annotation:1', entity, 'Annotation').
prop('annotation:1', 'run', 'run-2').
prop('annotation:1', 'name', "annotation").
node('campaign:c', entity, 'Campaign').
prop('campaign:c', 'run', 'run-2').
prop('campaign:c', 'name', "campaign").
node('cb:1', activity, 'Callback').
prop('cb:1', 'run', 'run-2').
prop('cb:1', 'name', "cb").
node('def:f', entity, 'Definition').
prop('def:f', 'run', 'run-2').
prop('def:f', 'name', "def").
node('env:PATH', entity, 'Environment').
prop('env:PATH', 'run', 'run-2').
prop('env:PATH', 'name', "env").
node('file:data.csv', entity, 'File').
prop('file:data.csv', 'path', "/work/data.csv").
prop('file:data.csv', 'run', 'trial-1').
prop('file:data.csv', 'name', "data.csv").
node('file:debug.log', entity, 'File').
prop('file:debug.log', 'path', "/work/debug.log").
prop('file:debug.log', 'run', 'trial-1').
prop('file:debug.log', 'name', "debug.log").
node('file:out.csv', entity, 'File').
prop('file:out.csv', 'path', "/work/out.csv").
prop('file:out.csv', 'run', 'trial-1').
prop('file:out.csv', 'name', "out.csv").
node('file:params.json', entity, 'File').
prop('file:params.json', 'path', "/work/params.json").
prop('file:params.json', 'run', 'trial-1').
prop('file:params.json', 'name', "params.json").
node('file:report.txt', entity, 'File').
prop('file:report.txt', 'path', "/work/report.txt").
prop('file:report.txt', 'run', 'trial-1').
prop('file:report.txt', 'name', "report.txt").
node('fv:data.csv@h1', entity, 'FileVersion').
prop('fv:data.csv@h1', 'hash', "h1").
prop('fv:data.csv@h1', 'size', 100).
prop('fv:data.csv@h1', 'run', 'trial-1').
prop('fv:data.csv@h1', 'name', "data.csv").
node('fv:debug.log@h6', entity, 'FileVersion').
prop('fv:debug.log@h6', 'hash', "h6").
prop('fv:debug.log@h6', 'size', 100).
prop('fv:debug.log@h6', 'run', 'trial-1').
prop('fv:debug.log@h6', 'name', "debug.log").
node('fv:out.csv@h3', entity, 'FileVersion').
prop('fv:out.csv@h3', 'hash', "h3").
prop('fv:out.csv@h3', 'size', 100).
prop('fv:out.csv@h3', 'run', 'trial-1').
prop('fv:out.csv@h3', 'name', "out.csv").
node('fv:out.csv@h4', entity, 'FileVersion').
prop('fv:out.csv@h4', 'hash', "h4").
prop('fv:out.csv@h4', 'size', 101).
prop('fv:out.csv@h4', 'run', 'trial-1').
prop('fv:out.csv@h4', 'name', "out.csv").
node('fv:params.json@h2', entity, 'FileVersion').
prop('fv:params.json@h2', 'hash', "h2").
prop('fv:params.json@h2', 'size', 100).
prop('fv:params.json@h2', 'run', 'trial-1').
prop('fv:params.json@h2', 'name', "params.json").
node('fv:report.txt@h5', entity, 'FileVersion').
prop('fv:report.txt@h5', 'hash', "h5").
prop('fv:report.txt@h5', 'size', 100).
prop('fv:report.txt@h5', 'run', 'trial-1').
prop('fv:report.txt@h5', 'name', "report.txt").
node('host:h', agent, 'Host').
prop('host:h', 'run', 'run-2').
prop('host:h', 'name', "host").
node('loop:1', activity, 'Loop').
prop('loop:1', 'run', 'run-2').
prop('loop:1', 'name', "loop").
node('module:numpy', entity, 'Module').
prop('module:numpy', 'run', 'run-2').
prop('module:numpy', 'name', "module").
node('part:1', activity, 'RunPart').
prop('part:1', 'run', 'run-2').
prop('part:1', 'name', "part").
node('plan:p', entity, 'Plan').
prop('plan:p', 'run', 'run-2').
prop('plan:p', 'name', "plan").
node('restore:1', activity, 'Restore').
prop('restore:1', 'run', 'run-2').
prop('restore:1', 'name', "restore").
node('run-2', activity, 'Run').
prop('run-2', 'seq', 2).
prop('run-2', 'ratio', 0.25).
prop('run-2', 'big', 4611686018427387904).
prop('run-2', 'ok', true).
prop('run-2', 'tags', json("[\"a\",\"b\"]")).
prop('run-2', 'meta', json("{\"k\":[1,2.5,null]}")).
prop('run-2', 'run', 'run-2').
prop('run-2', 'name', "every kind").
prop('run-2', 'status', "finished").
prop('run-2', 'started', 1700000100.0).
prop('run-2', 'ended', 1700000101.0).
node('script:analysis.py@s1', entity, 'Script').
prop('script:analysis.py@s1', 'hash', "s1").
prop('script:analysis.py@s1', 'run', 'trial-1').
prop('script:analysis.py@s1', 'name', "analysis.py").
node('task:1', activity, 'Task').
prop('task:1', 'run', 'run-2').
prop('task:1', 'name', "task").
node('token:1@1', entity, 'Token').
prop('token:1@1', 'run', 'run-2').
prop('token:1@1', 'name', "token").
node('token:1@2', entity, 'Token').
prop('token:1@2', 'run', 'run-2').
prop('token:1@2', 'name', "token").
node('trial-1', activity, 'Trial').
prop('trial-1', 'argv', json("[\"analysis.py\",\"--fast\"]")).
prop('trial-1', 'seq', 1).
prop('trial-1', 'run', 'trial-1').
prop('trial-1', 'name', "analysis.py").
prop('trial-1', 'status', "finished").
prop('trial-1', 'started', 1700000000.0).
prop('trial-1', 'ended', 1700000010.0).
node('value:1', entity, 'Value').
prop('value:1', 'run', 'run-2').
prop('value:1', 'name', "value").
node('value:alt', entity, 'Value').
prop('value:alt', 'run', 'run-2').
prop('value:alt', 'name', "value").
node('value:it\'s "q" \\ back\nslash\t ü 𝄞 \'), halt. \x1\ %', entity, 'Value').
prop('value:it\'s "q" \\ back\nslash\t ü 𝄞 \'), halt. \x1\ %', 'value', json("{\"repr\":\"it's \\\"q\\\" \\\\ back\\nslash\\t ü 𝄞 '), halt. \\u0001 %\"}")).
prop('value:it\'s "q" \\ back\nslash\t ü 𝄞 \'), halt. \x1\ %', 'run', 'run-2').
prop('value:it\'s "q" \\ back\nslash\t ü 𝄞 \'), halt. \x1\ %', 'name', "it's \"q\" \\ back\nslash\t ü 𝄞 '), halt. \x1\ %").
node('var:x', entity, 'Variable').
prop('var:x', 'run', 'run-2').
prop('var:x', 'name', "var").
node('wf:1', entity, 'Workflow').
prop('wf:1', 'run', 'run-2').
prop('wf:1', 'name', "wf").
node('wfrun:1', activity, 'WorkflowRun').
prop('wfrun:1', 'run', 'run-2').
prop('wfrun:1', 'name', "wfrun").
node('worker:w', agent, 'Worker').
prop('worker:w', 'run', 'run-2').
prop('worker:w', 'name', "worker").
used('act:load', 'fv:data.csv@h1', 1700000001.1, null).
edge_prop(used, 'act:load', 'fv:data.csv@h1', null, 'run', 'trial-1').
used('act:report', 'fv:out.csv@h4', 1700000004.1, null).
edge_prop(used, 'act:report', 'fv:out.csv@h4', null, 'run', 'trial-1').
used('act:transform', 'act:load/out/return', 1700000002.0, null).
edge_prop(used, 'act:transform', 'act:load/out/return', null, 'run', 'trial-1').
used('act:transform', 'fv:params.json@h2', 1700000002.1, null).
edge_prop(used, 'act:transform', 'fv:params.json@h2', null, 'run', 'trial-1').
used('act:update', 'fv:out.csv@h3', 1700000003.1, null).
edge_prop(used, 'act:update', 'fv:out.csv@h3', null, 'run', 'trial-1').
acted_on_behalf_of('agent:provkg', 'agent:person:alice', null, null).
edge_prop(acted_on_behalf_of, 'agent:provkg', 'agent:person:alice', null, 'run', 'trial-1').
acted_on_behalf_of('agent:sw', 'agent:bob', null, null).
edge_prop(acted_on_behalf_of, 'agent:sw', 'agent:bob', null, 'run', 'run-2').
was_attributed_to('annotation:1', 'agent:bob', null, "author").
edge_prop(was_attributed_to, 'annotation:1', 'agent:bob', "author", 'run', 'run-2').
was_influenced_by('annotation:1', 'task:1', null, "annotates").
edge_prop(was_influenced_by, 'annotation:1', 'task:1', "annotates", 'run', 'run-2').
had_member('campaign:c', 'wf:1', null, null).
edge_prop(had_member, 'campaign:c', 'wf:1', null, 'run', 'run-2').
was_associated_with('cb:1', 'host:h', null, null).
edge_prop(was_associated_with, 'cb:1', 'host:h', null, 'run', 'run-2').
specialization_of('fv:data.csv@h1', 'file:data.csv', null, null).
edge_prop(specialization_of, 'fv:data.csv@h1', 'file:data.csv', null, 'run', 'trial-1').
specialization_of('fv:debug.log@h6', 'file:debug.log', null, null).
edge_prop(specialization_of, 'fv:debug.log@h6', 'file:debug.log', null, 'run', 'trial-1').
was_generated_by('fv:debug.log@h6', 'act:log', 1700000005.4, null).
edge_prop(was_generated_by, 'fv:debug.log@h6', 'act:log', null, 'run', 'trial-1').
specialization_of('fv:out.csv@h3', 'file:out.csv', null, null).
edge_prop(specialization_of, 'fv:out.csv@h3', 'file:out.csv', null, 'run', 'trial-1').
was_generated_by('fv:out.csv@h3', 'act:transform', 1700000002.4, null).
edge_prop(was_generated_by, 'fv:out.csv@h3', 'act:transform', null, 'run', 'trial-1').
specialization_of('fv:out.csv@h4', 'file:out.csv', null, null).
edge_prop(specialization_of, 'fv:out.csv@h4', 'file:out.csv', null, 'run', 'trial-1').
was_derived_from('fv:out.csv@h4', 'fv:out.csv@h3', null, null).
edge_prop(was_derived_from, 'fv:out.csv@h4', 'fv:out.csv@h3', null, 'run', 'trial-1').
was_generated_by('fv:out.csv@h4', 'act:update', 1700000003.4, null).
edge_prop(was_generated_by, 'fv:out.csv@h4', 'act:update', null, 'run', 'trial-1').
specialization_of('fv:params.json@h2', 'file:params.json', null, null).
edge_prop(specialization_of, 'fv:params.json@h2', 'file:params.json', null, 'run', 'trial-1').
specialization_of('fv:report.txt@h5', 'file:report.txt', null, null).
edge_prop(specialization_of, 'fv:report.txt@h5', 'file:report.txt', null, 'run', 'trial-1').
was_generated_by('fv:report.txt@h5', 'act:report', 1700000004.4, null).
edge_prop(was_generated_by, 'fv:report.txt@h5', 'act:report', null, 'run', 'trial-1').
was_ended_by('loop:1', 'value:alt', 1700000100.9, null).
edge_prop(was_ended_by, 'loop:1', 'value:alt', null, 'run', 'run-2').
was_started_by('loop:1', 'value:1', 1700000100.1, null).
edge_prop(was_started_by, 'loop:1', 'value:1', null, 'run', 'run-2').
was_influenced_by('module:numpy', 'env:PATH', null, null).
edge_prop(was_influenced_by, 'module:numpy', 'env:PATH', null, 'run', 'run-2').
used('restore:1', 'value:it\'s "q" \\ back\nslash\t ü 𝄞 \'), halt. \x1\ %', null, "it's \"q\" \\ back\nslash\t ü 𝄞 '), halt. \x1\ %").
edge_prop(used, 'restore:1', 'value:it\'s "q" \\ back\nslash\t ü 𝄞 \'), halt. \x1\ %', "it's \"q\" \\ back\nslash\t ü 𝄞 '), halt. \x1\ %", 'run', 'run-2').
used('task:1', 'value:1', 1700000100.5, "x").
edge_prop(used, 'task:1', 'value:1', "x", 'run', 'run-2').
was_informed_by('task:1', 'run-2', null, "parent").
edge_prop(was_informed_by, 'task:1', 'run-2', "parent", 'run', 'run-2').
was_invalidated_by('token:1@1', 'cb:1', 1700000100.7, null).
edge_prop(was_invalidated_by, 'token:1@1', 'cb:1', null, 'run', 'run-2').
specialization_of('token:1@2', 'wf:1', null, null).
edge_prop(specialization_of, 'token:1@2', 'wf:1', null, 'run', 'run-2').
was_derived_from('token:1@2', 'token:1@1', null, null).
edge_prop(was_derived_from, 'token:1@2', 'token:1@1', null, 'run', 'run-2').
was_associated_with('trial-1', 'agent:person:alice', null, "user").
edge_prop(was_associated_with, 'trial-1', 'agent:person:alice', "user", 'plan', 'script:analysis.py@s1').
edge_prop(was_associated_with, 'trial-1', 'agent:person:alice', "user", 'run', 'trial-1').
was_associated_with('trial-1', 'agent:provkg', null, "capture").
edge_prop(was_associated_with, 'trial-1', 'agent:provkg', "capture", 'run', 'trial-1').
was_attributed_to('value:1', 'agent:bob', null, null).
edge_prop(was_attributed_to, 'value:1', 'agent:bob', null, 'run', 'run-2').
alternate_of('value:alt', 'value:1', null, null).
edge_prop(alternate_of, 'value:alt', 'value:1', null, 'run', 'run-2').
was_generated_by('value:alt', 'task:1', 1700000100.6, "return").
edge_prop(was_generated_by, 'value:alt', 'task:1', "return", 'run', 'run-2').
used('wfrun:1', 'def:f', null, null).
edge_prop(used, 'wfrun:1', 'def:f', null, 'run', 'run-2').
was_associated_with('wfrun:1', 'worker:w', null, null).
edge_prop(was_associated_with, 'wfrun:1', 'worker:w', null, 'plan', 'plan:p').
edge_prop(was_associated_with, 'wfrun:1', 'worker:w', null, 'run', 'run-2').
used('act:load', 'act:load/in/path', 1700000001.0, "path").
edge_prop(used, 'act:load', 'act:load/in/path', "path", 'run', 'trial-1').
was_generated_by('act:load/out/return', 'act:load', 1700000001.5, "return").
edge_prop(was_generated_by, 'act:load/out/return', 'act:load', "return", 'run', 'trial-1').
was_informed_by('act:load', 'act:main', null, "parent").
edge_prop(was_informed_by, 'act:load', 'act:main', "parent", 'run', 'trial-1').
used('act:log', 'act:log/in/msg', 1700000005.0, "msg").
edge_prop(used, 'act:log', 'act:log/in/msg', "msg", 'run', 'trial-1').
was_informed_by('act:log', 'act:main', null, "parent").
edge_prop(was_informed_by, 'act:log', 'act:main', "parent", 'run', 'trial-1').
was_informed_by('act:main', 'trial-1', null, "parent").
edge_prop(was_informed_by, 'act:main', 'trial-1', "parent", 'run', 'trial-1').
was_generated_by('act:report/out/return', 'act:report', 1700000004.5, "return").
edge_prop(was_generated_by, 'act:report/out/return', 'act:report', "return", 'run', 'trial-1').
was_informed_by('act:report', 'act:main', null, "parent").
edge_prop(was_informed_by, 'act:report', 'act:main', "parent", 'run', 'trial-1').
used('act:transform', 'act:transform/in/rows', 1700000002.0, "rows").
edge_prop(used, 'act:transform', 'act:transform/in/rows', "rows", 'run', 'trial-1').
was_generated_by('act:transform/out/return', 'act:transform', 1700000002.5, "return").
edge_prop(was_generated_by, 'act:transform/out/return', 'act:transform', "return", 'run', 'trial-1').
was_informed_by('act:transform', 'act:main', null, "parent").
edge_prop(was_informed_by, 'act:transform', 'act:main', "parent", 'run', 'trial-1').
was_informed_by('act:update', 'act:main', null, "parent").
edge_prop(was_informed_by, 'act:update', 'act:main', "parent", 'run', 'trial-1').
