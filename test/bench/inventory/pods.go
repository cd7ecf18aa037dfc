package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// partyPod is a persistent party pod as the chart's StatefulSet makes it, already bound to the fake node.
func partyPod(i int) *corev1.Pod {
	name := fmt.Sprintf("server-party-%05d", i)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: map[string]string{
			"app.kubernetes.io/name":             "mpc-system",
			"app.kubernetes.io/instance":         "mpc-system",
			"app.kubernetes.io/component":        "mpc-party",
			"app.kubernetes.io/part-of":          "mpc-system",
			"party-role":                         "persistent",
			"statefulset.kubernetes.io/pod-name": name,
			"apps.kubernetes.io/pod-index":       strconv.Itoa(i),
		}},
		Spec: corev1.PodSpec{
			NodeName:                     nodeName,
			AutomountServiceAccountToken: ptr.To(false),
			Containers: []corev1.Container{{Name: "party", Image: "ghcr.io/mpcguard/mpc-server-party:0.1.0",
				Ports: []corev1.ContainerPort{{Name: "grpc", ContainerPort: 50051}}}},
		},
	}
}

// readyStatus is what a kubelet reports for a running, Ready pod.
func readyStatus(pod *corev1.Pod) {
	now := metav1.Now()
	pod.Status.Phase = corev1.PodRunning
	pod.Status.PodIP = "10.244.0.1"
	pod.Status.StartTime = &now
	for _, t := range []corev1.PodConditionType{corev1.PodScheduled, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady} {
		pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{Type: t,
			Status: corev1.ConditionTrue, LastTransitionTime: now})
	}
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "party", Ready: true,
		Image: pod.Spec.Containers[0].Image, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}}}
}

// createPods creates party pods [from, to) with workers concurrent clients, each pod a create and a status
// update to Ready, and returns how long that took. The first error stops every worker.
func createPods(ctx context.Context, cs kubernetes.Interface, from, to, workers int) (time.Duration, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	var done atomic.Int64
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for i := range next {
				pod, err := cs.CoreV1().Pods(namespace).Create(ctx, partyPod(i), metav1.CreateOptions{})
				if err != nil {
					cancel(fmt.Errorf("creating pod %d: %w", i, err))
					return
				}
				readyStatus(pod)
				if _, err := cs.CoreV1().Pods(namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
					cancel(fmt.Errorf("setting pod %s Ready: %w", pod.Name, err))
					return
				}
				done.Add(1)
			}
		})
	}
	stopProgress := progress(&done, to-from)
	defer stopProgress()
	for i := from; i < to && ctx.Err() == nil; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// progress prints done/total every 5 seconds until stopped.
func progress(done *atomic.Int64, total int) (stop func()) {
	quit := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(5 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
				fmt.Fprintf(os.Stderr, "    %d of %d pods created and Ready\n", done.Load(), total)
			}
		}
	}()
	return func() { close(quit); <-finished }
}
