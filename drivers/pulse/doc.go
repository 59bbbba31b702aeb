// Package pulse counts pulses on a GPIO input: inductive-loop detector outputs, pneumatic-tube or
// piezo axle detectors, reed contacts.
//
// A dedicated goroutine waits for edges with gpio.PinIn.WaitForEdge, drops edges closer than
// Opts.Debounce to the last counted one and counts the rest with atomics; Sample reports the count
// since the previous Sample ("count") and optionally the rate per minute ("1/min").
//
// # Datasheets
//
// There is no single part: the input is a detector's output stage.
//
// Loop detector cards (e.g. Sarasota/Peek/Reno A&E 2-channel cards, EN 50293 installations) present
// an open-collector or relay output that pulls the line low while a vehicle is over the loop: use
// gpio.PullUp and gpio.FallingEdge (DefaultOpts), one pulse per vehicle. Relay outputs bounce for a
// few milliseconds: Opts.Debounce of 20 ms covers them.
//
// Axle detectors (pneumatic tube switches, piezo sensors with a comparator) give one pulse per axle,
// down to about 10 ms apart for two axles at highway speed: keep Debounce below that.
//
// periph.io GPIO: https://pkg.go.dev/periph.io/x/conn/v3/gpio (PinIn.In, WaitForEdge) and
// https://pkg.go.dev/periph.io/x/host/v3/gpioioctl (the Linux GPIO character device backend).
//
// Linux GPIO character device, line events: https://docs.kernel.org/userspace-api/gpio/gpio-v2-line-event-read.html
//
// # Missed edges
//
// periph documents that edges arriving between two WaitForEdge calls "may or may not accumulate".
// What happens depends on the backend:
//
//   - gpioioctl (character device, v2 ABI): the kernel timestamps each edge and queues it in a
//     per-line FIFO (16 events by default). Each WaitForEdge dequeues one event, so edges are not
//     lost unless the loop falls more than 16 edges behind; but periph drops the kernel timestamp,
//     so the driver only knows when it dequeued an edge. Edges that waited in the queue come out
//     back to back and may be taken for bounces: undercounting.
//   - sysfs edge interface (older kernels, other backends): an edge only marks the line as
//     changed; several edges between two waits collapse into one: undercounting.
//
// Either way the risk is the same: the loop was not waiting when an edge arrived. The driver
// measures it. Stats.Queued counts edges that WaitForEdge returned within Opts.ReArm of being
// called, i.e. that were (almost certainly) already pending when the loop re-armed; a non-zero
// and growing Queued means the goroutine is starved (CPU load, GC) or pulses come faster than it
// can handle, and the count may be low. Stats.OverRate counts edges closer together than
// 1/Opts.MaxRate, the fastest the installation should ever produce, and Stats.MinInterval is the
// shortest gap seen: a detector that chatters or a wiring fault shows there first.
//
// Timestamps come from the package's clock seam (var now = time.Now) so tests can drive debounce
// deterministically.
package pulse
