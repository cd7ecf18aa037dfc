package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// clusterDNS stands in for the cluster's DNS add-on on the real node: it answers A queries for
// <service>.<namespace>.svc.cluster.local with the Service's ClusterIP (or, for a headless Service, the ready
// addresses of its EndpointSlices), from the API at query time, and NXDOMAIN for every other name. It never
// forwards a query, so pods cannot resolve anything off the machine. It listens on UDP port 53 of the node's
// address, which the kubelet gives pods as their nameserver.
type clusterDNS struct {
	conn   net.PacketConn
	client kubernetes.Interface
	wg     sync.WaitGroup
}

const clusterDomain = "svc.cluster.local."

func startClusterDNS(ip string, client kubernetes.Interface) (*clusterDNS, error) {
	conn, err := net.ListenPacket("udp4", net.JoinHostPort(ip, "53"))
	if err != nil {
		return nil, fmt.Errorf("the stand-in cluster DNS on %s:53: %w", ip, err)
	}
	d := &clusterDNS{conn: conn, client: client}
	d.wg.Go(d.serve)
	return d, nil
}

func (d *clusterDNS) Stop() error {
	err := d.conn.Close()
	d.wg.Wait()
	return err
}

func (d *clusterDNS) serve() {
	buf := make([]byte, 1500)
	for {
		n, addr, err := d.conn.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		resp, err := d.answer(buf[:n])
		if err != nil {
			continue // not a DNS query we can parse: drop it, as a server would
		}
		_, _ = d.conn.WriteTo(resp, addr)
	}
}

func (d *clusterDNS) answer(query []byte) ([]byte, error) {
	var p dnsmessage.Parser
	hdr, err := p.Start(query)
	if err != nil {
		return nil, err
	}
	q, err := p.Question()
	if err != nil {
		return nil, err
	}
	resp := dnsmessage.Header{ID: hdr.ID, Response: true, Authoritative: true, RecursionDesired: hdr.RecursionDesired}
	var ips []netip.Addr
	name := strings.ToLower(q.Name.String())
	if rest, ok := strings.CutSuffix(name, "."+clusterDomain); ok && strings.Count(rest, ".") == 1 {
		svc, ns, _ := strings.Cut(rest, ".")
		ips = d.lookup(ns, svc)
	}
	if len(ips) == 0 {
		resp.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(make([]byte, 0, 512), resp)
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q); err != nil {
		return nil, err
	}
	if err := b.StartAnswers(); err != nil {
		return nil, err
	}
	if q.Type == dnsmessage.TypeA {
		for _, ip := range ips {
			rh := dnsmessage.ResourceHeader{Name: q.Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 5}
			if err := b.AResource(rh, dnsmessage.AResource{A: ip.As4()}); err != nil {
				return nil, err
			}
		}
	}
	return b.Finish()
}

// lookup is the A records of Service ns/svc: its ClusterIP, or the ready addresses of a headless Service.
func (d *clusterDNS) lookup(ns, svc string) []netip.Addr {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := d.client.CoreV1().Services(ns).Get(ctx, svc, metav1.GetOptions{})
	if err != nil {
		return nil
	}
	if ip, err := netip.ParseAddr(s.Spec.ClusterIP); err == nil && ip.Is4() {
		return []netip.Addr{ip}
	}
	slices, err := d.client.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + svc})
	if err != nil {
		return nil
	}
	var ips []netip.Addr
	for _, sl := range slices.Items {
		for _, ep := range sl.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			for _, a := range ep.Addresses {
				if ip, err := netip.ParseAddr(a); err == nil && ip.Is4() {
					ips = append(ips, ip)
				}
			}
		}
	}
	return ips
}
