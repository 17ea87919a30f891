// Package deploy holds what runs chatnight outside `go run`: an example communities
// file, the compose stack (compose/: Dockerfile, NATS, a ClickHouse cluster with
// Keeper, Prometheus), Kubernetes manifests (kubernetes/), Grafana provisioning and
// dashboards (grafana/), and setup scripts (scripts/: libchdb, system packages,
// fuzzing).
//
// Imports: deploy has no code of its own. Its tests check the files statically (they
// parse, name pinned images, use only flags and subcommands the binary has; every metric
// a dashboard uses is one a tier registers) and may import any package to do so;
// nothing imports deploy.
package deploy
