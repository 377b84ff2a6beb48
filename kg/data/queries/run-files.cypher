// name: run-files
// answers: The files a run read and wrote: each file version it used or generated, with the path,
//   content hash, size, access mode and the activity that touched it.
// param run: run              The run or trial (id, unique prefix or number).
// example: kg query run-files --param run=1 -F csv
CALL (){
  MATCH (a:Activity)-[u:USED]->(v:FileVersion) WHERE u.run = $run
  RETURN 'read' AS access, v, u.role AS mode, a, u.time AS time
  UNION ALL
  MATCH (v:FileVersion)-[g:WAS_GENERATED_BY]->(a:Activity) WHERE g.run = $run
  RETURN 'wrote' AS access, v, g.role AS mode, a, g.time AS time
}
RETURN access, v.path AS path, v.sha256 AS sha256, v.size AS size, mode, a.id AS activity, v.id AS version
ORDER BY time, access, path
