//go:build tools

// Package tools pins the KEDA commands (operator, metrics adapter) that hack/build-keda.sh builds,
// so that `go mod tidy` keeps them (and their exact versions) in go.mod and go.sum.
package tools

import (
	_ "github.com/kedacore/keda/v2/cmd/adapter"
	_ "github.com/kedacore/keda/v2/cmd/operator"
)
