package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

// apiserverArgs builds the kube-apiserver command line. Flags in o.extraArgs
// come last, so a caller can override any of these.
func apiserverArgs(o *options) []string {
	args := []string{
		fmt.Sprintf("--etcd-servers=http://127.0.0.1:%d", o.etcdClientPort),
		"--bind-address=127.0.0.1",
		// Without it the apiserver advertises the address of the default
		// route's interface, which is not where it listens.
		"--advertise-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", o.securePort),
		// No --tls-cert-file: the apiserver creates a CA and a serving
		// certificate for IP 127.0.0.1 in this directory (apiserver.crt holds
		// the certificate followed by that CA). "localhost" is not in it.
		"--cert-dir=" + o.certDir,
		"--authorization-mode=RBAC",
		"--token-auth-file=" + o.tokenAuthFile,
		"--service-account-key-file=" + o.saPublicKeyFile,
		"--service-account-signing-key-file=" + o.saPrivateKeyFile,
		"--service-account-issuer=" + o.saIssuer,
		"--service-cluster-ip-range=" + o.serviceCIDR,
		// One apiserver and no real network: keep the "kubernetes" Service
		// endpoints out of the reconcile loop.
		"--endpoint-reconciler-type=none",
	}
	return append(args, o.extraArgs...)
}

// newAPIServerCommand returns the kube-apiserver command, ready to run with
// cli.Run. Creating it installs kube-apiserver's SIGTERM/SIGINT handler.
func newAPIServerCommand(o *options) *cobra.Command {
	args := apiserverArgs(o)
	logger.Printf("kube-apiserver %s", strings.Join(args, " "))
	cmd := app.NewAPIServerCommand()
	cmd.SetArgs(args)
	return cmd
}
