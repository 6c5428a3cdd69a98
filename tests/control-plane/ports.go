package main

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
)

// Ports are drawn below Linux's default ephemeral range (32768-60999): a port
// taken from the ephemeral range could be handed to an outgoing connection
// (for example the apiserver's own connection to etcd) between the moment it
// is chosen and the moment the server binds it.
const (
	portLow  = 20000
	portHigh = 32000
)

// freePortsCmd prints n distinct ports that are free on 127.0.0.1 right now,
// one per line. Nothing reserves them: the caller should use them at once.
func freePortsCmd(args []string) int {
	n := 1
	if len(args) > 0 {
		v, err := strconv.Atoi(args[0])
		if err != nil || v < 1 || v > 100 {
			fmt.Fprintln(os.Stderr, "usage: control-plane free-ports [N]  (1 <= N <= 100)")
			return 2
		}
		n = v
	}
	// Hold every listener until all are found so no port is reported twice.
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	for tries := 0; len(held) < n; tries++ {
		if tries > 1000 {
			fmt.Fprintln(os.Stderr, "control-plane: no free port found")
			return 1
		}
		port := portLow + rand.IntN(portHigh-portLow)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		held = append(held, l)
	}
	for _, l := range held {
		fmt.Println(l.Addr().(*net.TCPAddr).Port)
	}
	return 0
}
