// name: run-diff
// answers: The differences between two runs: run properties (status, arguments, tags, host...),
//   how often each task ran and failed, and the content hashes of every file each run read or
//   wrote. Only differing rows are returned; a side that lacks the item is null.
// param a: run                The first run (id, unique prefix or number).
// param b: run                The second run.
// example: kg query run-diff --param a=1 --param b=2
MATCH (ra:KG {id: $a}), (rb:KG {id: $b})
UNWIND ['name', 'status', 'args', 'tags', 'metadata', 'campaign', 'python', 'host', 'user', 'argv',
        'error_type', 'error'] AS k
WITH k, ra[k] AS va, rb[k] AS vb
WHERE va <> vb OR (va IS NULL) <> (vb IS NULL)
RETURN 'run' AS aspect, k AS item, va AS a, vb AS b
UNION ALL
MATCH (t:Activity) WHERE t.run IN [$a, $b] AND NOT t.kind IN ['Run', 'Trial']
WITH t.kind + ' ' + coalesce(t.name, '?') AS item,
     sum(CASE WHEN t.run = $a THEN 1 ELSE 0 END) AS na, sum(CASE WHEN t.run = $b THEN 1 ELSE 0 END) AS nb,
     sum(CASE WHEN t.run = $a AND t.status = 'ERROR' THEN 1 ELSE 0 END) AS fa,
     sum(CASE WHEN t.run = $b AND t.status = 'ERROR' THEN 1 ELSE 0 END) AS fb
WHERE na <> nb OR fa <> fb
RETURN 'activity' AS aspect, item,
       CASE na WHEN 0 THEN null ELSE toString(na) + ' calls, ' + toString(fa) + ' failed' END AS a,
       CASE nb WHEN 0 THEN null ELSE toString(nb) + ' calls, ' + toString(fb) + ' failed' END AS b
UNION ALL
CALL () {
  MATCH (:Activity)-[u:USED]->(v:FileVersion) WHERE u.run IN [$a, $b]
  RETURN 'read ' + v.path AS item, u.run AS run, v.sha256 AS sha
  UNION
  MATCH (v:FileVersion)-[g:WAS_GENERATED_BY]->(:Activity) WHERE g.run IN [$a, $b]
  RETURN 'wrote ' + v.path AS item, g.run AS run, v.sha256 AS sha
}
WITH item, run, sha ORDER BY item, sha
WITH item, collect(CASE WHEN run = $a THEN left(sha, 12) END) AS sa,
           collect(CASE WHEN run = $b THEN left(sha, 12) END) AS sb
WHERE sa <> sb
RETURN 'file' AS aspect, item, CASE size(sa) WHEN 0 THEN null ELSE sa END AS a,
       CASE size(sb) WHEN 0 THEN null ELSE sb END AS b
