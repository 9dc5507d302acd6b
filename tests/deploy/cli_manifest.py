"""What the kn and kubeless checks share: the command from a README, and a field-by-field
comparison of the manifest it generates with the one kept in the repository."""
import fnmatch
import re
import shlex
import sys


def readme_command(readme, prefix):
    """The shell command in a ```sh block of readme that starts with prefix, as argv.

    The README is the source: the checks run exactly what users are told to run."""
    with open(readme, encoding="utf-8") as f:
        text = f.read()
    found = []
    for block in re.findall(r"^```sh\n(.*?)^```", text, re.S | re.M):
        joined = block.replace("\\\n", " ")
        found += [line.strip() for line in joined.splitlines() if line.strip().startswith(prefix)]
    if len(found) != 1:
        sys.exit(f"{readme}: expected one `{prefix} ...` command in a sh block, found {len(found)}")
    return shlex.split(found[0], comments=True)


# Lists whose items are known by name: env[HOST] rather than env[3], so that order does not
# matter and a difference names the item. Containers keep their index: the CLIs leave the
# container name to the cluster.
NAMED_LISTS = {"env", "ports", "volumes", "volumeMounts"}


def flatten(value, path=""):
    """{path: leaf} for a YAML document.

    Empty values ("", null, {}, []) are dropped: a CLI writes zero values where a file
    leaves the field out, and both mean the same to the cluster."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            out.update(flatten(item, f"{path}.{key}" if path else str(key)))
        return out
    if isinstance(value, list):
        out = {}
        for i, item in enumerate(value):
            named = path.rsplit(".", 1)[-1] in NAMED_LISTS and isinstance(item, dict)
            key = item.get("name", i) if named else i
            out.update(flatten(item, f"{path}[{key}]"))
        return out
    if value in (None, "", {}, []):
        return {}
    return {path: value}


def compare(generated, kept, generated_only, kept_only):
    """Problems (as text) between the generated manifest and the kept one.

    generated_only: patterns of paths the CLI writes that the file leaves out on purpose
    (defaults the cluster fills in, bookkeeping). kept_only: patterns of paths the file
    sets that the CLI has no flag for; each one is a documented difference."""
    def matches(path, patterns):
        # Only * is a wildcard; [ ] in a pattern are the list indices of the paths.
        return any(fnmatch.fnmatchcase(path, p.replace("[", "[[]")) for p in patterns)

    gen, keep = flatten(generated), flatten(kept)
    problems = []
    for path in sorted(gen.keys() | keep.keys()):
        if path in gen and path in keep:
            if gen[path] != keep[path]:
                problems.append(f"{path}: the command gives {gen[path]!r}, the file has {keep[path]!r}")
        elif path in gen and not matches(path, generated_only):
            problems.append(f"{path}: the command gives {gen[path]!r}, the file leaves it out")
        elif path in keep and not matches(path, kept_only):
            problems.append(f"{path}: the file has {keep[path]!r}, the command does not set it")
    return problems, len(gen.keys() & keep.keys())


def report(name, problems, agreed):
    """Prints the outcome and exits non-zero when there are problems."""
    if problems:
        print(f"{name}: the README command and the file disagree:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        sys.exit(1)
    print(f"{name}: the README command yields the file ({agreed} fields agree)")
