// name: run-tree
// answers: The task/activation tree of a run: every activity nested in it (tasks, loop iterations,
//   function activations, file accesses) with its depth, parent, status and timing, in start order.
// param run: run              The run or trial (id, unique prefix or number).
// example: kg query run-tree --param run=1
MATCH (r:KG {id: $run})
MATCH p = (a:Activity)-[:WAS_INFORMED_BY]->{1,50}(r)
WHERE a.run = $run
RETURN length(p) AS depth, a.id AS id, a.kind AS kind, a.name AS name, a.parent AS parent,
       a.status AS status, a.started AS started, a.duration AS duration
ORDER BY started, id
