package main

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/logutil"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// etcdServer is the embedded etcd and the level of its logger.
type etcdServer struct {
	*embed.Etcd
	logLevel zap.AtomicLevel
}

// startEtcd starts a single-member etcd that listens on 127.0.0.1 only, over
// plain HTTP (it is reachable from this machine only), and waits until it is
// ready to serve or ctx is done.
func startEtcd(ctx context.Context, dir string, clientPort, peerPort int, noFsync bool) (*etcdServer, error) {
	clientURL := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", clientPort)}
	peerURL := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", peerPort)}

	cfg := embed.NewConfig()
	cfg.Name = "control-plane"
	cfg.Dir = dir
	cfg.ListenClientUrls = []url.URL{clientURL}
	cfg.AdvertiseClientUrls = []url.URL{clientURL}
	cfg.ListenPeerUrls = []url.URL{peerURL}
	cfg.AdvertisePeerUrls = []url.URL{peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.UnsafeNoFsync = noFsync

	// Our own zap logger, so its level can be raised before Close (see close).
	level := zap.NewAtomicLevelAt(zapcore.WarnLevel)
	zc := logutil.DefaultZapLoggerConfig
	zc.Level = level
	zc.OutputPaths = []string{"stderr"}
	zc.ErrorOutputPaths = []string{"stderr"}
	lg, err := zc.Build()
	if err != nil {
		return nil, err
	}
	cfg.Logger = "zap"
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(lg)

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, err
	}
	select {
	case <-e.Server.ReadyNotify():
		return &etcdServer{Etcd: e, logLevel: level}, nil
	case err := <-e.Err():
		e.Close()
		return nil, err
	case <-ctx.Done():
		e.Server.Stop()
		e.Close()
		return nil, ctx.Err()
	case <-time.After(60 * time.Second):
		e.Server.Stop()
		e.Close()
		return nil, fmt.Errorf("not ready after 60s")
	}
}

// close stops etcd. Closing its listeners makes etcd log one error with a
// stack trace per listener ("server closed", "use of closed network
// connection") even on a clean stop, so only fatal messages are kept from here.
func (e *etcdServer) close() {
	e.logLevel.SetLevel(zapcore.FatalLevel)
	e.Close()
}
