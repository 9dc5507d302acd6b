module wx-stats/tests/schemas/kubeless-types

go 1.22

require (
	github.com/kubeless/cronjob-trigger v1.0.2
	github.com/kubeless/http-trigger v1.0.0
	github.com/kubeless/kubeless v1.0.8
	k8s.io/apimachinery v0.0.0-20180228050457-302974c03f7e
)

require (
	github.com/gogo/protobuf v1.2.1 // indirect
	github.com/golang/glog v0.0.0-20160126235308-23def4e6c14b // indirect
	github.com/google/gofuzz v0.0.0-20170612174753-24818f796faf // indirect
	github.com/spf13/pflag v1.0.5 // indirect
	golang.org/x/net v0.0.0-20190620200207-3b0461eec859 // indirect
	golang.org/x/text v0.3.2 // indirect
	gopkg.in/inf.v0 v0.9.1 // indirect
	k8s.io/api v0.0.0-20180308224125-73d903622b73 // indirect
)
