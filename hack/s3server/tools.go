//go:build tools

// Package tools pins the versitygw command that hack/build-controlplane.sh builds.
package tools

import _ "github.com/versity/versitygw/cmd/versitygw"
