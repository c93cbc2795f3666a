//go:build tools

// Package tools pins the helm command that hack/build-helm.sh builds, so that `go mod tidy`
// keeps it (and its exact version) in go.mod and go.sum.
package tools

import (
	_ "helm.sh/helm/v4/cmd/helm"
)
