package godiscover

import (
	discover "github.com/hashicorp/go-discover"
	"github.com/hashicorp/go-discover/provider/aliyun"
	"github.com/hashicorp/go-discover/provider/aws"
	"github.com/hashicorp/go-discover/provider/azure"
	"github.com/hashicorp/go-discover/provider/digitalocean"
	"github.com/hashicorp/go-discover/provider/gce"
	"github.com/hashicorp/go-discover/provider/k8s"
	"github.com/hashicorp/go-discover/provider/linode"
	"github.com/hashicorp/go-discover/provider/mdns"
	"github.com/hashicorp/go-discover/provider/os"
	"github.com/hashicorp/go-discover/provider/packet"
	"github.com/hashicorp/go-discover/provider/scaleway"
	"github.com/hashicorp/go-discover/provider/softlayer"
	"github.com/hashicorp/go-discover/provider/tencentcloud"
	"github.com/hashicorp/go-discover/provider/triton"
	"github.com/hashicorp/go-discover/provider/vsphere"
)

// DefaultProviders returns a new map of every go-discover provider: those
// of go-discover's own default set (discover.Providers) and k8s, which
// that set leaves out. The values are new each call, not the ones of
// discover.Providers, because some providers keep state (the user agent
// go-discover sets on each call): two Discoverers never share one.
func DefaultProviders() map[string]discover.Provider {
	return map[string]discover.Provider{
		"aliyun":       &aliyun.Provider{},
		"aws":          &aws.Provider{},
		"azure":        &azure.Provider{},
		"digitalocean": &digitalocean.Provider{},
		"gce":          &gce.Provider{},
		"k8s":          &k8s.Provider{},
		"linode":       &linode.Provider{},
		"mdns":         &mdns.Provider{},
		"os":           &os.Provider{},
		"packet":       &packet.Provider{},
		"scaleway":     &scaleway.Provider{},
		"softlayer":    &softlayer.Provider{},
		"tencentcloud": &tencentcloud.Provider{},
		"triton":       &triton.Provider{},
		"vsphere":      &vsphere.Provider{},
	}
}
