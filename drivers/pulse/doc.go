// Package pulse is a vehicle detector on GPIO inputs: inductive-loop detector card outputs (one
// loop, or two as a speed trap), pneumatic-tube or piezo axle sensors, and plain pulse counters.
//
// Edge goroutines (one per line) wait with gpio.PinIn.WaitForEdge and feed timestamped edges to
// a state machine (machine.go: pure, no clock, tested with exact timelines); Sample(at) closes the
// interval at at and reports its aggregates. Per edge and per Sample nothing is allocated.
//
// # Options (sensors[].options)
//
//	mode: presence        presence | speed-trap | axle | count
//	active: low           level while detecting: low (open collector / relay to ground, pull-up) | high
//	pull: up              up | down | none
//	min_on: 20ms          presence, speed-trap: shortest presence that is a vehicle (0-10s)
//	min_off: 100ms        presence, speed-trap: shortest absence between two vehicles (0-10s)
//	debounce: 10ms        axle, count: edges closer than this to the last counted one are bounce (0-10s)
//	rate: false           count: add "rate" (1/min)
//	trap:
//	  spacing: (required) speed-trap: metres, upstream loop's leading edge to downstream's (0-100)
//	  loop_length: 1.8    effective detection zone length along the lane, m (0-30)
//	  min_speed: 2        m/s; pairing window up to spacing/min_speed (above 0, below max_speed)
//	  max_speed: 70       m/s; pairing window from spacing/max_speed; histogram bound (up to 150)
//	axle:
//	  gap: 400ms          axle: an axle less than gap after the previous one is the same vehicle
//
// Why these defaults:
//   - active low, pull up: detector cards (Reno A&E, Sarasota, Peek; EN 50293 installations) have
//     an open-collector or relay output that closes to ground while a vehicle is detected.
//   - min_on 20 ms: the shortest real presence is a motorcycle (about 2.2 m) over a 1.8 m loop at
//     200 km/h, (2.2 + 1.8) / 55.6 = 72 ms; 20 ms rejects crosstalk and noise spikes well below.
//   - min_off 100 ms: relay bounce and release chatter last a few ms; a tractor-trailer's hitch
//     that leaves a 1 m stretch undetected lasts 100 ms at 36 km/h (less above); the shortest gap
//     between two moving vehicles a 1.8 m loop separates (3 m bumper to bumper at 36 km/h) is
//     (3 - 1.8) / 10 = 120 ms. Slow sites with high trailers want more, dense slow queues less.
//   - debounce 10 ms: tube switches bounce for a few ms; a tandem axle (1.2 m) at 130 km/h is
//     33 ms apart, which must not be lost.
//   - axle.gap 400 ms: groups a 2.7 m wheelbase above 24 km/h (2.7 / 0.4 = 6.75 m/s) and a 3.5 m
//     one above 32 km/h, and separates two cars at 50 km/h whose axles are more than 5.6 m apart
//     (about 3.7 m bumper to bumper). Tune it to the site's speeds: at lower speeds raise it.
//   - trap.loop_length 1.8 m: the 6 ft square loop of US practice (TDH chapter 4); the effective
//     length depends on sensitivity and vehicle height: calibrate it with vehicles of known length.
//   - trap.min_speed 2 m/s, max_speed 70 m/s: 7 to 252 km/h; a 4 m trap pairs actuations 57 ms to
//     2 s apart. A wider window pairs wrongly in dense traffic, a narrower one loses crawling queues.
//   - trap.spacing has no default: a wrong spacing is a wrong speed for every vehicle.
//
// # Channels per mode
//
// presence: volume (count), occupancy (%), headway (s), gap (s). speed-trap: those four for the
// upstream loop, then matched (count), speed (m/s), speed_p85 (m/s), length (m), unmatched
// (count). axle: vehicles (count), axles (count). count: count (count), and rate (1/min) with
// rate: true. Means (headway, gap, speed, speed_p85, length) are 0 when the interval has nothing
// to average: they mean something only when their count (volume for headway and gap, matched for
// the speed trap's) is above 0. An interval without vehicles is a reading of zeros, not an error.
//
// # Presence (presence, speed-trap)
//
// The line's level after each edge drives a state machine with minimum on and off times. A run
// of presence starts at the first active edge (the vehicle's front), bridges every absence shorter
// than min_off (closing bounce, release chatter, a trailer's dropout), and ends at the inactive
// edge (the rear) that begins an absence of at least min_off. A run shorter than min_on from
// front to rear is noise (Stats.Rejected). Decisions are taken as soon as they are certain: a
// vehicle when its run has lasted min_on, an end min_off after the rear (or at Sample when that
// time has passed). Known answer (issue #14): activating edges at 0, 1, 3 ms and 469, 471 ms are
// one vehicle, present from 0 to the last release; two vehicles 1.5 s apart are two.
//
// Per interval, from the definitions in the Traffic Detector Handbook, 3rd ed. (FHWA-HRT-06-108,
// 2006), Vol. I, chapter 2 (loop detector data), and the Highway Capacity Manual, 7th ed. (2022),
// chapter 4:
//   - volume: vehicles whose presence was confirmed in the interval (front + min_on, so a vehicle
//     whose front is in the last min_on before the boundary counts in the next interval).
//   - occupancy: percent of the interval with presence on. A presence spanning a boundary is
//     split at it. Time that is still undecided at the boundary (the last min_on of an
//     unconfirmed run, the last min_off of a dropout) is counted in the interval where it is
//     decided; the sum over intervals is exact, a single interval can be off by that much and is
//     clamped to 100 %.
//   - headway: mean over the interval's vehicles of the time from the previous vehicle's front to
//     theirs (HCM: front to front of successive vehicles; the previous vehicle may be in an
//     earlier interval). The first vehicle since start has none.
//   - gap: mean of the time from the previous vehicle's rear to the vehicle's front (HCM: rear of
//     the leader to front of the follower); at a loop, gap = headway - the leader's on-time.
//
// A vehicle already over the loop when the driver starts adds occupancy but no volume.
//
// # Speed trap (speed-trap)
//
// pins[0] is the upstream loop A, pins[1] the downstream loop B, trap.spacing metres apart
// (leading edge to leading edge). Each loop has its own presence machine. When a run on B ends,
// it is paired with the oldest unpaired run on A whose front is between spacing/max_speed and
// spacing/min_speed before B's (runs are queued when they end, in time order: a vehicle leaves A
// before B). TDH: speed = spacing / (t_on,B - t_on,A); length = speed × on-time - loop_length,
// with the on-time the mean of both loops' (Coifman: at constant speed the two are equal). A run
// on A that no B can match any more (its window passed with no B run starting in it), or a run on
// B with no A in its window, is unmatched (a lane change, a missed actuation), counted and never
// paired.
//
// Per interval: matched vehicles, their mean speed (time-mean speed, the arithmetic mean of spot
// speeds, HCM chapter 4) and 85th-percentile speed, their mean length, and unmatched actuations.
// The 85th percentile is the nearest-rank percentile (Hyndman & Fan 1996, definition 1: the value
// of rank ceil(0.85 n) in ascending order; ITE Manual of Transportation Engineering Studies,
// spot speed studies: the speed at or below which 85 % of vehicles travel), taken from a
// histogram of 0.1 m/s bins up to max_speed: resolution 0.1 m/s, fixed memory (at most 1501
// bins). A trap's own timing limits the speed far more: one millisecond at 30 m/s over 4 m is
// 0.2 m/s.
//
// # Axles (axle) and pulses (count)
//
// The pin reports the activating edge only (falling when active low). Each edge at least debounce
// after the last counted one is an axle; an axle gap or more after the previous one starts a new
// vehicle, counted in the interval of its first axle. Known answer (issue #14): two axles 75 ms
// apart (2.7 m wheelbase at 130 km/h) are one vehicle with two axles. The count mode is the
// older pulse counter, kept for detector cards set to pulse output (one fixed pulse per vehicle),
// reed contacts and tipping buckets; New(pin, *Opts) opens it with periph types.
//
// # Edge timing
//
// periph's gpio.PinIn.WaitForEdge returns neither the edge's time nor its direction. The driver
// stamps each edge with its clock (the `now` seam, time.Now) when WaitForEdge returns and reads
// the line's level (presence modes, both edges enabled). On the Linux GPIO character device
// (host/v3 gpioioctl) the kernel timestamps every edge in its interrupt handler and queues it (16
// events per line by default); the goroutine's stamp comes later by the wake-up latency: tens of
// microseconds on an idle Raspberry Pi, milliseconds under load or GC, unbounded when the
// goroutine is starved. Events that waited in the queue come out back to back with nearly the same
// stamp, and their level reads give the current level, not the one after each edge. The presence
// machine tolerates that (a level seen twice is ignored; bounce compresses; the settled level is
// right), but the times carry the latency: at 30 m/s a 1 ms error on one loop of a 4 m trap is
// 0.2 m/s of speed. Stats.Queued counts edges returned within ReArm (50 µs) of re-arming, i.e.
// that were already pending: a growing count says timings are unreliable. The sysfs backend
// collapses edges between two waits into one; bounce is then lost harmlessly, short pulses not.
//
// The kernel's timestamps exist: host/v3 v3.8.5 gpioioctl reads struct gpio_v2_line_event
// (Timestamp_ns, Id rising/falling, Seqno, LineSeqno; ioctl.go) in GPIOLine.WaitForEdge and
// LineSet.WaitForEdge, but discards Timestamp_ns (LineSet returns the edge kind, GPIOLine not
// even that), and it sets no GPIO_V2_LINE_FLAG_EVENT_CLOCK_REALTIME (so they would be
// CLOCK_MONOTONIC). The driver therefore accepts any pin implementing TimedPin
// (WaitForTimedEdge returning the edge's time and level) and uses those instead: a small
// character-device line reader of our own, or a patch to periph, can supply kernel timestamps
// without changing the state machines. pulsesim.Pin implements it for the simulator and tests.
//
// # References
//
//   - Traffic Detector Handbook, 3rd ed., Vol. I, FHWA-HRT-06-108 (2006), chapter 2 (inductive loop
//     detectors: presence, occupancy, speed traps, vehicle length from on-time and effective loop
//     length): https://www.fhwa.dot.gov/publications/research/operations/its/06108/
//   - Highway Capacity Manual, 7th ed., TRB (2022), chapter 4: headway, gap, time-mean speed.
//   - R. J. Hyndman, Y. Fan, "Sample Quantiles in Statistical Packages", The American
//     Statistician 50(4), 1996: definition 1 (nearest rank).
//   - B. Coifman, "Using Dual Loop Speed Traps to Identify Detector Errors", Transportation
//     Research Record 1683 (1999): equal on-times at both loops of a trap.
//   - Linux GPIO character device, line events:
//     https://docs.kernel.org/userspace-api/gpio/gpio-v2-line-event-read.html
//   - periph.io GPIO: https://pkg.go.dev/periph.io/x/conn/v3/gpio,
//     https://pkg.go.dev/periph.io/x/host/v3/gpioioctl
package pulse
