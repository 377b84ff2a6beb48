// name: failed-tasks
// answers: The tasks and activations that failed: in one run, or in every run when RUN is "*",
//   with the error, its type and when it happened; newest first.
// param run: run = *          The run (id, unique prefix or number), or "*" for every run.
// example: kg query failed-tasks --param run=1
MATCH (a:Activity)
WHERE a.status IN ['ERROR', 'failed'] AND ($run = '*' OR a.run = $run)
  AND NOT a.kind IN ['Run', 'Trial']
RETURN a.run AS run, a.id AS id, a.kind AS kind, a.name AS name, a.error_type AS error_type,
       a.error AS error, a.started AS started
ORDER BY started DESC, id
