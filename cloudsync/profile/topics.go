package profile

import (
	"strconv"
	"strings"
)

// StatusDelivery says how the gateway's status reaches the platform.
type StatusDelivery int

const (
	// StatusRetained: publish the status JSON retained at QoS 1 on Topics.Status at every connection;
	// the last will (offline) goes to the same topic, retained.
	StatusRetained StatusDelivery = iota
	// StatusTwin (azure-iothub): publish {"<StatusKey>": <status JSON>} at QoS 1 on
	// Topics.StatusTopic(requestID), a device twin reported-properties update; the hub answers on
	// Topics.ResponseFilter (see ParseStatusResponse). The last will goes to Topics.Will, not retained.
	StatusTwin
	// StatusPlain (aliyun-iot): publish the status JSON, not retained, on Topics.Status at every
	// connection. There is no last will: the platform tracks presence itself.
	StatusPlain
)

func (d StatusDelivery) String() string {
	switch d {
	case StatusRetained:
		return "retained"
	case StatusTwin:
		return "twin"
	case StatusPlain:
		return "plain"
	}
	return "StatusDelivery(" + strconv.Itoa(int(d)) + ")"
}

type scheme int

const (
	schemePrefix scheme = iota // generic, aws-iot: <prefix>/<gw>/cmd/<name>, reply/<name>
	schemeAzure                // direct methods
	schemeAliyun               // /pk/dn/user/cmd/<name with '_'>, one reply topic
)

// Topics are the gateway's topics on one platform. Compare them with ==.
type Topics struct {
	// Telemetry receives the SenML-CBOR batches at QoS 1.
	Telemetry string
	// Events receives health events (JSON).
	Events string
	// Status is the status topic for StatusRetained and StatusPlain; empty for StatusTwin (use StatusTopic).
	Status string
	// StatusDelivery says how to send the status.
	StatusDelivery StatusDelivery
	// StatusKey is the reported property the status object goes under (StatusTwin).
	StatusKey string
	// Will is the last will's topic; empty when the platform takes no will (Limits.Will is false).
	Will string
	// WillRetained says the will is published retained.
	WillRetained bool
	// CommandFilter is the filter to subscribe to for commands.
	CommandFilter string
	// ResponseFilter, when not empty, must be subscribed too: the platform's answers to status updates.
	ResponseFilter string

	scheme      scheme
	cmdPrefix   string // a command topic is cmdPrefix + name (schemePrefix, schemeAliyun)
	replyPrefix string // schemePrefix: + name; schemeAliyun: the whole reply topic
}

// Command is what a command topic carries.
type Command struct {
	// Name is the command's name as the cloud wrote it (e.g. "set-interval").
	Name string
	// RequestID is the platform's request id from the topic (azure-iothub's $rid, raw as received),
	// empty when the platform carries none; Reply needs it back.
	RequestID string
}

// Subscriptions returns the filters to subscribe to after every connection: CommandFilter and,
// when set, ResponseFilter.
func (t Topics) Subscriptions() []string {
	s := []string{t.CommandFilter}
	if t.ResponseFilter != "" {
		s = append(s, t.ResponseFilter)
	}
	return s
}

// StatusTopic returns the topic to publish the status on. For StatusTwin it is the reported-properties
// PATCH topic with requestID as $rid (use a new one per update, e.g. a counter); the others ignore
// requestID and return Status.
func (t Topics) StatusTopic(requestID string) string {
	if t.StatusDelivery == StatusTwin {
		return azureTwinPatch + requestID
	}
	return t.Status
}

// ParseCommand maps a received topic to the command it carries; ok is false for any topic that is not
// one of this gateway's command topics.
func (t Topics) ParseCommand(topic string) (c Command, ok bool) {
	switch t.scheme {
	case schemeAzure:
		// $iothub/methods/POST/{method name}/?$rid={request id}
		rest, found := strings.CutPrefix(topic, azureMethodPost)
		if !found {
			return Command{}, false
		}
		name, query, found := strings.Cut(rest, "/?")
		if !found || !validLevel(name) {
			return Command{}, false
		}
		rid, found := queryValue(query, "$rid")
		if !found || rid == "" || strings.ContainsAny(rid, "/+#") {
			return Command{}, false
		}
		return Command{Name: name, RequestID: rid}, true
	case schemeAliyun:
		name, found := strings.CutPrefix(topic, t.cmdPrefix)
		if !found || !validLevel(name) {
			return Command{}, false
		}
		return Command{Name: strings.ReplaceAll(name, "_", "-")}, true
	default:
		name, found := strings.CutPrefix(topic, t.cmdPrefix)
		if !found || !validLevel(name) {
			return Command{}, false
		}
		return Command{Name: name}, true
	}
}

// Reply returns the topic to answer c on. status is an HTTP-like code (200 done, 400 bad request,
// 401 unauthorized, 404 unknown command, 500 failed); only azure-iothub puts it in the topic.
func (t Topics) Reply(c Command, status int) string {
	switch t.scheme {
	case schemeAzure:
		return azureMethodRes + strconv.Itoa(status) + "/?$rid=" + c.RequestID
	case schemeAliyun:
		return t.replyPrefix
	default:
		return t.replyPrefix + c.Name
	}
}

// ParseStatusResponse maps a topic under ResponseFilter to the platform's answer to a status update:
// azure-iothub's $iothub/twin/res/{status}/?$rid={rid}[&$version={v}]. ok is false for other topics.
func (t Topics) ParseStatusResponse(topic string) (status int, requestID string, ok bool) {
	if t.scheme != schemeAzure {
		return 0, "", false
	}
	rest, found := strings.CutPrefix(topic, azureTwinRes)
	if !found {
		return 0, "", false
	}
	code, query, found := strings.Cut(rest, "/?")
	if !found {
		return 0, "", false
	}
	n, err := strconv.Atoi(code)
	if err != nil || n < 100 || n > 999 {
		return 0, "", false
	}
	rid, found := queryValue(query, "$rid")
	if !found {
		return 0, "", false
	}
	return n, rid, true
}

// validLevel is one non-empty topic level without wildcards.
func validLevel(s string) bool {
	return s != "" && !strings.ContainsAny(s, "/+#") && printable(s)
}

// queryValue finds key's raw (not unescaped) value in a property bag a=1&b=2: echoed back as received.
func queryValue(query, key string) (string, bool) {
	for part := range strings.SplitSeq(query, "&") {
		if k, v, _ := strings.Cut(part, "="); k == key {
			return v, true
		}
	}
	return "", false
}
