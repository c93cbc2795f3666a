//go:build tools

// Package tools pins the control-plane commands (etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler) that hack/build-controlplane.sh builds,
// so that `go mod tidy` keeps them (and their exact versions) in go.mod and go.sum.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
