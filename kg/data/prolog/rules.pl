% provkg rules over the facts written by `kg export --format prolog`.
%
% Load:   swipl rules.pl facts.pl      (or `kg prolog "GOAL" RUN...`)
% Facts:  node(Id, Class, Kind), prop(Id, Key, Value),
%         <relation>(Subject, Object, Time, Role) for every PROV relation,
%         edge_prop(Relation, Subject, Object, Role, Key, Value).
% Ids, kinds and keys are atoms; string values are strings; absent Time/Role is null.
% The full list with arities is in docs/exports.md.

:- encoding(utf8).
:- set_prolog_flag(double_quotes, string).
:- use_module(library(solution_sequences)).

% Declared here too, so the rules load (and goals fail cleanly) without facts.
:- dynamic((node/3, prop/3, edge_prop/6, used/4, was_generated_by/4, was_associated_with/4,
            was_attributed_to/4, was_derived_from/4, was_informed_by/4, was_started_by/4,
            was_ended_by/4, was_invalidated_by/4, acted_on_behalf_of/4, had_member/4,
            specialization_of/4, alternate_of/4, was_influenced_by/4)).
:- multifile((node/3, prop/3, edge_prop/6, used/4, was_generated_by/4, was_associated_with/4,
              was_attributed_to/4, was_derived_from/4, was_informed_by/4, was_started_by/4,
              was_ended_by/4, was_invalidated_by/4, acted_on_behalf_of/4, had_member/4,
              specialization_of/4, alternate_of/4, was_influenced_by/4)).

% -- PROV classes and our kinds ---------------------------------------------
entity(X) :- node(X, entity, _).
activity(X) :- node(X, activity, _).
agent(X) :- node(X, agent, _).
kind(X, Kind) :- node(X, _, Kind).

is_run(X) :- node(X, activity, 'Run').
is_run_part(X) :- node(X, activity, 'RunPart').
is_trial(X) :- node(X, activity, 'Trial').
is_task(X) :- node(X, activity, 'Task').
is_loop(X) :- node(X, activity, 'Loop').
is_activation(X) :- node(X, activity, 'Activation').
is_workflow_run(X) :- node(X, activity, 'WorkflowRun').
is_callback(X) :- node(X, activity, 'Callback').
is_restore(X) :- node(X, activity, 'Restore').
is_file_access(X) :- node(X, activity, 'FileAccess').
is_value(X) :- node(X, entity, 'Value').
is_variable(X) :- node(X, entity, 'Variable').
is_file(X) :- node(X, entity, 'File').
is_file_version(X) :- node(X, entity, 'FileVersion').
is_module(X) :- node(X, entity, 'Module').
is_script(X) :- node(X, entity, 'Script').
is_definition(X) :- node(X, entity, 'Definition').
is_environment(X) :- node(X, entity, 'Environment').
is_campaign(X) :- node(X, entity, 'Campaign').
is_annotation(X) :- node(X, entity, 'Annotation').
is_workflow(X) :- node(X, entity, 'Workflow').
is_token(X) :- node(X, entity, 'Token').
is_plan(X) :- node(X, entity, 'Plan').
is_person(X) :- node(X, agent, 'Person').
is_software_agent(X) :- node(X, agent, 'SoftwareAgent').
is_host(X) :- node(X, agent, 'Host').
is_worker(X) :- node(X, agent, 'Worker').

% -- common props ------------------------------------------------------------
node_name(X, Name) :- prop(X, name, Name).
in_run(X, Run) :- prop(X, run, Run).
started(X, T) :- prop(X, started, T).
ended(X, T) :- prop(X, ended, T).
duration(X, D) :- started(X, S), ended(X, E), number(S), number(E), D is E - S.
status(X, S) :- prop(X, status, S).

% -- one step of dependence: Later depends on Earlier --------------------------
% The relations `kg lineage` follows (kg.model.terms.LINEAGE_RELATIONS).
depends_on(X, Y) :- used(X, Y, _, _).
depends_on(X, Y) :- was_generated_by(X, Y, _, _).
depends_on(X, Y) :- was_derived_from(X, Y, _, _).
depends_on(X, Y) :- was_informed_by(X, Y, _, _).
depends_on(X, Y) :- was_influenced_by(X, Y, _, _).
depends_on(X, Y) :- was_started_by(X, Y, _, _).

% lineage(X, Y): Y is upstream of X (transitive closure; tabled, so cycles terminate).
:- table lineage/2.
lineage(X, Y) :- depends_on(X, Y).
lineage(X, Z) :- lineage(X, Y), depends_on(Y, Z).

% influenced(X, Y): X is upstream of Y (the downstream view of lineage).
influenced(X, Y) :- lineage(Y, X).

% -- derivation chains ---------------------------------------------------------
derived_from(New, Old) :- was_derived_from(New, Old, _, _).

:- table derived_from_star/2.
derived_from_star(New, Old) :- derived_from(New, Old).
derived_from_star(New, Old) :- derived_from_star(New, Mid), derived_from(Mid, Old).

% derivation_chain(New, Old, Chain): Chain = [New, ..., Old] following wasDerivedFrom.
derivation_chain(New, Old, [New|Rest]) :- derivation_chain_(New, Old, [New], Rest).
derivation_chain_(X, Old, _, [Old]) :- derived_from(X, Old).
derivation_chain_(X, Old, Seen, [Mid|Rest]) :-
    derived_from(X, Mid), \+ memberchk(Mid, Seen),
    derivation_chain_(Mid, Old, [Mid|Seen], Rest).

% -- activation ancestry (the parent links of tasks and function activations) ----
activation_parent(A, P) :- was_informed_by(A, P, _, "parent").

:- table activation_ancestor/2.
activation_ancestor(A, P) :- activation_parent(A, P).
activation_ancestor(A, G) :- activation_ancestor(A, P), activation_parent(P, G).

activation_depth(A, 0) :- \+ activation_parent(A, _).
activation_depth(A, D) :- activation_parent(A, P), activation_depth(P, D0), D is D0 + 1.

% -- annotations (kg annotate) ---------------------------------------------------
% annotation(A, Target, Author, Text): A is a note by Author on Target.
annotation(A, Target, Author, Text) :-
    is_annotation(A), was_influenced_by(A, Target, _, "annotates"),
    prop(A, author, Author), prop(A, text, Text).

% -- files -----------------------------------------------------------------------
% file_of(Version, File): a FileVersion specialises its File.
file_of(V, F) :- specialization_of(V, F, _, _), is_file(F).
file_path(F, Path) :- is_file(F), prop(F, path, Path).
reads(A, F) :- used(A, V, _, _), is_file_version(V), file_of(V, F).
writes(A, F) :- was_generated_by(V, A, _, _), is_file_version(V), file_of(V, F).

% file_lineage(X, File): some version of File is upstream of X.
file_lineage(X, F) :- distinct(X-F, (lineage(X, V), is_file_version(V), file_of(V, F))).

% file_influence(From, To): a version of file From is upstream of a version of file To.
file_influence(From, To) :-
    distinct(From-To, (is_file(To), file_of(V, To), file_lineage(V, From), From \== To)).
