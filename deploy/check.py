"""Checks the deployment files against their schemas and against Mixdown itself.

Run by scripts/deploy-check.sh, which installs what this imports. Prints one
line per problem and exits 1 if there is any:

- every Kubernetes manifest against the API's schemas (kubernetes-validate,
  strict: an unknown field is an error);
- every KEDA ScaledObject against the schema of KEDA's CRD (the pydantic
  models of cloudcoil-models-keda are generated from it), made strict the
  same way, plus what KEDA's prometheus scaler requires of its metadata;
- kustomization.yaml lists exactly the manifests beside it;
- compose.yaml against the Compose Specification's schema (check-jsonschema
  ships it) is checked by the shell script; here, what only Mixdown knows:
  queue names, metric names, setting names, subcommands, drain and grace.
"""

import re
import sys
from pathlib import Path

import jsonschema
import kubernetes_validate
import yaml
from cloudcoil.models.keda.v1alpha1 import ScaledObject

ROOT = Path(__file__).resolve().parent.parent
MANIFESTS = ROOT / "deploy" / "kubernetes"
KUBERNETES_VERSION = "1.31.0"
# Read by the image or the C library, not by Mixdown's settings.
OTHER_ENV = {"TMPDIR"}
ROLES = {"dev", "api", "worker", "migrate"}
PROMETHEUS_METADATA = {"serverAddress", "query", "threshold"}

problems = []


def problem(where, what):
    problems.append(f"{where}: {what}")


def source(path):
    return (ROOT / path).read_text()


def queues():
    """The queues jobs wait in: each kind's name, less kinds sharing another's queue."""
    kind = source("jobs/src/kind.rs")
    names = re.search(r"fn as_str\(self\).*?\{(.*?)\n    \}", kind, re.S).group(1)
    shared = set(re.findall(r"JobKind::(\w+) => JobKind::\w+\.as_str\(\)", kind))
    found = re.findall(r'JobKind::(\w+) => "(\w+)"', names)
    return {name for variant, name in found if variant not in shared}


def metric_names():
    return set(re.findall(r'"(mixdown_[a-z_]+)"', source("jobs/src/metrics.rs")))


def setting_envs():
    envs = set()
    for path in ROOT.glob("*/src/**/settings.rs"):
        envs.update(re.findall(r'=\s*"[^"\n]*",\s*"([A-Z][A-Z0-9_]*)";', path.read_text()))
    return envs


def strict(schema):
    """Refuses fields the schema does not name, as a structural CRD prunes them."""
    if isinstance(schema, dict):
        if "properties" in schema:
            schema.setdefault("additionalProperties", False)
        for value in schema.values():
            strict(value)
    elif isinstance(schema, list):
        for value in schema:
            strict(value)
    return schema


def manifests():
    for path in sorted(MANIFESTS.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                yield path.relative_to(ROOT), doc


def check_schemas(docs):
    keda = jsonschema.Draft202012Validator(
        strict(ScaledObject.model_json_schema(by_alias=True, mode="validation"))
    )
    for path, doc in docs:
        where = f"{path} {doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
        if doc.get("apiVersion") == "keda.sh/v1alpha1":
            for error in keda.iter_errors(doc):
                problem(where, f"{'/'.join(map(str, error.absolute_path))}: {error.message}")
            for trigger in doc.get("spec", {}).get("triggers", []):
                if trigger.get("type") == "prometheus":
                    missing = PROMETHEUS_METADATA - set(trigger.get("metadata", {}))
                    if missing:
                        problem(where, f"prometheus trigger lacks {sorted(missing)}")
            continue
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            path_text = "/".join(map(str, error.path))
            problem(where, f"{path_text}: {error.message}")
        except kubernetes_validate.SchemaNotFoundError:
            problem(where, f"no Kubernetes {KUBERNETES_VERSION} schema for it")


def check_kustomization():
    listed = yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())["resources"]
    present = {p.name for p in MANIFESTS.glob("*.yaml")} - {"kustomization.yaml"}
    for name in sorted(set(listed) - present):
        problem("deploy/kubernetes/kustomization.yaml", f"lists {name}, which does not exist")
    for name in sorted(present - set(listed)):
        problem("deploy/kubernetes/kustomization.yaml", f"does not list {name}")


def flag(args, name):
    return args[args.index(name) + 1] if name in args else None


def check_env(where, names, known):
    for name in sorted(set(names) - known - OTHER_ENV):
        problem(where, f"{name} is no Mixdown setting")


def check_worker(where, args, env, grace, known_queues):
    served = set((flag(args, "--queues") or "").split(","))
    for name in sorted(served - known_queues):
        problem(where, f"--queues names {name!r}, which is no queue")
    drain_ms = int(env.get("MIXDOWN_DRAIN_TIMEOUT_MS", "30000"))
    if grace is not None and grace * 1000 <= drain_ms:
        problem(where, f"grace {grace} s does not exceed the drain of {drain_ms} ms")
    return served


def check_kubernetes(docs, known_queues, metrics, envs):
    deployments, scaled, served = {}, {}, {}
    for path, doc in docs:
        name = doc["metadata"]["name"]
        where = f"{path} {doc['kind']}/{name}"
        if doc["kind"] == "ConfigMap":
            check_env(where, doc.get("data", {}), envs)
        if doc["kind"] == "Secret":
            check_env(where, doc.get("stringData", {}), envs)
        if doc["kind"] == "ScaledObject":
            scaled[doc["spec"]["scaleTargetRef"]["name"]] = (where, doc)
        if doc["kind"] not in ("Deployment", "Job"):
            continue
        pod = doc["spec"]["template"]["spec"]
        for container in pod["containers"]:
            env = {e["name"]: e.get("value") for e in container.get("env", [])}
            check_env(where, env, envs)
            args = container.get("args", [])
            if not args or args[0] not in ROLES:
                problem(where, f"runs {args[:1]}, which is no serving role")
            elif args[0] == "worker":
                grace = pod.get("terminationGracePeriodSeconds", 30)
                served[name] = check_worker(where, args, env, grace, known_queues)
        if doc["kind"] == "Deployment":
            deployments[name] = where
    for target, (where, doc) in scaled.items():
        if target not in deployments:
            problem(where, f"scales {target}, which is no Deployment here")
        for trigger in doc["spec"]["triggers"]:
            query = trigger.get("metadata", {}).get("query", "")
            for metric in set(re.findall(r"mixdown_[a-z_]+", query)) - metrics:
                problem(where, f"query reads {metric}, which Mixdown does not export")
            for queue in re.findall(r'queue="([^"]+)"', query):
                if queue not in served.get(target, set()):
                    problem(where, f"scales on queue {queue!r}, which {target} does not serve")
    for name in sorted(set(served) - set(scaled)):
        problem(deployments[name], "no ScaledObject scales it")
    check_coverage("deploy/kubernetes", served, known_queues)


def check_coverage(where, served, known_queues):
    counts = {}
    for queues_of in served.values():
        for queue in queues_of:
            counts[queue] = counts.get(queue, 0) + 1
    for queue in sorted(known_queues):
        if counts.get(queue, 0) != 1:
            problem(where, f"queue {queue!r} is served by {counts.get(queue, 0)} worker kinds, not 1")


def check_compose(known_queues, envs):
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    served, ports = {}, []
    for name, service in compose["services"].items():
        where = f"compose.yaml service {name}"
        if service.get("image", "").split(":")[0] != "mixdown":
            continue
        env = service.get("environment", {})
        check_env(where, env, envs)
        command = service.get("command", [])
        if not command or command[0] not in ROLES:
            problem(where, f"runs {command[:1]}, which is no serving role")
        elif command[0] == "worker":
            grace = service.get("stop_grace_period", "10s")
            seconds = int(grace[:-1]) * (60 if grace.endswith("m") else 1)
            served[name] = check_worker(where, command, env, seconds, known_queues)
        ports += [p.split(":")[-2] for p in service.get("ports", [])]
    if len(ports) != len(set(ports)):
        problem("compose.yaml", f"host ports used twice: {ports}")
    check_coverage("compose.yaml", served, known_queues)


def main():
    docs = list(manifests())
    check_schemas(docs)
    check_kustomization()
    known_queues, envs = queues(), setting_envs()
    if not known_queues or not envs:
        problem("deploy/check.py", "found no queues or settings in the sources")
    check_kubernetes(docs, known_queues, metric_names(), envs)
    check_compose(known_queues, envs)
    for line in problems:
        print(line)
    print(f"{len(docs)} manifests, compose.yaml: {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
