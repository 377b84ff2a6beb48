// name: runs-using-file-version
// answers: The runs that read a given file version (by its id, or by its content hash), with
//   the activity that read it, its path and when; the run's own number and name.
// param version: string       FileVersion id (fv:...) or its sha256 content hash.
// example: kg query runs-using-file-version --param version=3f5a...
MATCH (v:FileVersion) WHERE v.id = $version OR v.sha256 = $version
MATCH (a:Activity)-[u:USED]->(v)
OPTIONAL MATCH (r:KG {id: u.run})
RETURN DISTINCT u.run AS run, r.seq AS seq, r.name AS run_name, v.path AS path, a.id AS activity,
       u.time AS time
ORDER BY time, run
