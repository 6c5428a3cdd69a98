// Command control-plane runs a throw-away Kubernetes control plane for tests:
// an embedded single-member etcd plus the upstream kube-apiserver, both in this
// one process and both bound to 127.0.0.1. It runs no controllers, scheduler or
// kubelet: it is meant for exercising API clients (operators, CRDs, leases).
//
// Usage:
//
//	control-plane [flags] [-- extra kube-apiserver flags]
//	control-plane free-ports [N]
//
// cluster.sh in this directory wraps it: see README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"k8s.io/component-base/cli"
)

// logger writes straight to stderr: kube-apiserver redirects the standard
// library's default logger into klog once it starts.
var logger = log.New(os.Stderr, "control-plane: ", log.LstdFlags|log.Lmicroseconds)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "free-ports" {
		os.Exit(freePortsCmd(os.Args[2:]))
	}
	os.Exit(run())
}

type options struct {
	dataDir          string
	etcdClientPort   int
	etcdPeerPort     int
	etcdNoFsync      bool
	securePort       int
	certDir          string
	tokenAuthFile    string
	saPublicKeyFile  string
	saPrivateKeyFile string
	saIssuer         string
	serviceCIDR      string
	pidFile          string
	ownerPID         int
	extraArgs        []string
}

func parseFlags() (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("control-plane", flag.ContinueOnError)
	fs.StringVar(&o.dataDir, "data-dir", "", "directory for etcd data (a fresh temporary directory, removed on exit, when empty)")
	fs.IntVar(&o.etcdClientPort, "etcd-client-port", 0, "etcd client port on 127.0.0.1 (required)")
	fs.IntVar(&o.etcdPeerPort, "etcd-peer-port", 0, "etcd peer port on 127.0.0.1 (required)")
	fs.BoolVar(&o.etcdNoFsync, "etcd-unsafe-no-fsync", true, "skip fsync in etcd: faster, and durability does not matter for a test cluster")
	fs.IntVar(&o.securePort, "secure-port", 0, "kube-apiserver HTTPS port on 127.0.0.1 (required)")
	fs.StringVar(&o.certDir, "cert-dir", "", "where kube-apiserver writes its self-signed serving certificate (default DATA-DIR/certs)")
	fs.StringVar(&o.tokenAuthFile, "token-auth-file", "", "static token file for kube-apiserver (required)")
	fs.StringVar(&o.saPublicKeyFile, "service-account-key-file", "", "PEM public key that verifies service-account tokens (required)")
	fs.StringVar(&o.saPrivateKeyFile, "service-account-signing-key-file", "", "PEM private key that signs service-account tokens (required)")
	fs.StringVar(&o.saIssuer, "service-account-issuer", "https://kubernetes.default.svc.cluster.local", "issuer of service-account tokens")
	// Only a configuration value: Services get cluster IPs from it, but nothing
	// routes to them because no proxy runs.
	fs.StringVar(&o.serviceCIDR, "service-cluster-ip-range", "10.96.0.0/16", "range for Service cluster IPs")
	fs.StringVar(&o.pidFile, "pid-file", "", "write this process's PID here; removed on exit")
	fs.IntVar(&o.ownerPID, "owner-pid", 0, "stop, and remove the data directory, once this process has exited (0: run until signalled)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: control-plane [flags] [-- extra kube-apiserver flags]\n       control-plane free-ports [N]\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		return nil, err
	}
	o.extraArgs = fs.Args()

	for name, v := range map[string]int{"etcd-client-port": o.etcdClientPort, "etcd-peer-port": o.etcdPeerPort, "secure-port": o.securePort} {
		if v <= 0 || v > 65535 {
			return nil, fmt.Errorf("-%s: a port in 1..65535 is required", name)
		}
	}
	for name, v := range map[string]string{"token-auth-file": o.tokenAuthFile, "service-account-key-file": o.saPublicKeyFile, "service-account-signing-key-file": o.saPrivateKeyFile} {
		if v == "" {
			return nil, fmt.Errorf("-%s is required", name)
		}
	}
	return o, nil
}

func run() int {
	o, err := parseFlags()
	if err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		logger.Print(err)
		return 2
	}

	if o.dataDir == "" {
		dir, err := os.MkdirTemp("", "control-plane-")
		if err != nil {
			logger.Print(err)
			return 1
		}
		defer os.RemoveAll(dir)
		o.dataDir = dir
	}
	if o.certDir == "" {
		o.certDir = filepath.Join(o.dataDir, "certs")
	}

	if o.pidFile != "" {
		if err := os.WriteFile(o.pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			logger.Print(err)
			return 1
		}
		defer os.Remove(o.pidFile)
	}

	// Build the kube-apiserver command before anything starts: that installs
	// its own SIGTERM/SIGINT handler, which begins its graceful shutdown, so
	// it also sees a signal that arrives while etcd is still starting.
	// We watch the same signals to close etcd, but only after the apiserver
	// has returned.
	apiserver := newAPIServerCommand(o)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if o.ownerPID > 0 {
		// Registered first so it runs last, once etcd has closed its files.
		defer os.RemoveAll(o.dataDir)
		go stopWithOwner(o.ownerPID)
	}

	etcd, err := startEtcd(ctx, filepath.Join(o.dataDir, "etcd"), o.etcdClientPort, o.etcdPeerPort, o.etcdNoFsync)
	if err != nil {
		if ctx.Err() != nil {
			logger.Print("stopped while etcd was starting")
			return 0
		}
		logger.Printf("etcd: %v", err)
		return 1
	}
	defer func() {
		logger.Print("stopping etcd")
		etcd.close()
		logger.Print("etcd stopped")
	}()
	if ctx.Err() != nil {
		return 0
	}

	apiDone := make(chan int, 1)
	go func() { apiDone <- cli.Run(apiserver) }()

	select {
	case code := <-apiDone:
		logger.Printf("kube-apiserver exited with code %d", code)
		if ctx.Err() != nil {
			return 0 // it was signalled together with us
		}
		if code == 0 {
			// It never returns 0 on its own unless it was told to stop.
			code = 1
		}
		return code
	case err := <-etcd.Err():
		logger.Printf("etcd failed: %v", err)
		return 1
	case <-ctx.Done():
		logger.Print("signalled, waiting for kube-apiserver to shut down")
	}

	// kube-apiserver got the same signal. Give it a bounded time to drain;
	// cluster.sh waits 30 s before it sends SIGKILL.
	select {
	case code := <-apiDone:
		logger.Printf("kube-apiserver stopped (code %d)", code)
	case <-time.After(20 * time.Second):
		logger.Print("kube-apiserver did not stop within 20s; closing etcd anyway")
	}
	return 0
}

// stopWithOwner signals this process the way cluster.sh stop would once the
// owner (a test process that started this instance for itself) has exited, so
// that no control plane outlives the tests that needed it.
func stopWithOwner(pid int) {
	for syscall.Kill(pid, 0) != syscall.ESRCH {
		time.Sleep(time.Second)
	}
	logger.Printf("owner %d exited, stopping", pid)
	_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
}
