package profile

import "fmt"

// The configuration holds secrets (cloud.password, the Azure device key, the Aliyun device secret).
// These String and GoString methods keep them out of logs and error messages even when a whole Input
// is printed with %v, %+v or %#v.

func redacted(s string) string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

func (in Input) String() string {
	return fmt.Sprintf("{Profile:%s GatewayID:%s TopicPrefix:%s Brokers:%v ClientID:%s Username:%s Password:%s KeepAlive:%v TLS:%+v Now:%v AWS:%+v Azure:%v Aliyun:%v}",
		in.Profile, in.GatewayID, in.TopicPrefix, in.Brokers, in.ClientID, in.Username, redacted(in.Password),
		in.KeepAlive, in.TLS, in.Now, in.AWS, in.Azure, in.Aliyun)
}

// GoString is String, so %#v redacts too.
func (in Input) GoString() string { return "profile.Input" + in.String() }

func (a Azure) String() string {
	return fmt.Sprintf("{HubHost:%s DeviceID:%s SharedAccessKey:%s TokenTTL:%v}",
		a.HubHost, a.DeviceID, redacted(a.SharedAccessKey), a.TokenTTL)
}

// GoString is String, so %#v redacts too.
func (a Azure) GoString() string { return "profile.Azure" + a.String() }

func (a Aliyun) String() string {
	return fmt.Sprintf("{ProductKey:%s DeviceName:%s DeviceSecret:%s InstanceID:%s Region:%s SecureMode:%s SignMethod:%s ClientID:%s}",
		a.ProductKey, a.DeviceName, redacted(a.DeviceSecret), a.InstanceID, a.Region, a.SecureMode, a.SignMethod, a.ClientID)
}

// GoString is String, so %#v redacts too.
func (a Aliyun) GoString() string { return "profile.Aliyun" + a.String() }
