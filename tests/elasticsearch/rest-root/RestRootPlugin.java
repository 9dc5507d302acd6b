// GET / for the Elasticsearch integ-test distribution.
//
// From 8.x on, the handler that answers GET / with the node's name and version lives in the
// `rest-root` module, which the integ-test zip leaves out, so `curl $ES_URL/` gets a 405. This
// plugin gives the test bed that answer back, with the same fields as the real one (apart from
// cluster_uuid, which would need a cluster-state call). The `build` script next to it compiles
// it against the distribution it goes into; it is never added where ES still serves GET / itself.
package wxstats.restroot;

import java.util.Collection;
import java.util.List;

import org.apache.lucene.util.Version;
import org.elasticsearch.Build;
import org.elasticsearch.client.internal.node.NodeClient;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.plugins.ActionPlugin;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.rest.BaseRestHandler;
import org.elasticsearch.rest.RestHandler;
import org.elasticsearch.rest.RestRequest;
import org.elasticsearch.rest.RestResponse;
import org.elasticsearch.rest.RestStatus;
import org.elasticsearch.xcontent.XContentBuilder;

public class RestRootPlugin extends Plugin implements ActionPlugin {
    private final Settings settings;

    public RestRootPlugin(Settings settings) {
        this.settings = settings;
    }

    // The parameter list differs between 8.x and 9.x; `build` copies this distribution's own.
    @Override
    public Collection<RestHandler> getRestHandlers(/*PARAMETERS*/) {
        return List.of(new Root(settings));
    }

    static final class Root extends BaseRestHandler {
        private final Settings settings;

        Root(Settings settings) {
            this.settings = settings;
        }

        @Override
        public String getName() {
            return "wx_stats_rest_root";
        }

        @Override
        public List<Route> routes() {
            return List.of(new Route(RestRequest.Method.GET, "/"), new Route(RestRequest.Method.HEAD, "/"));
        }

        @Override
        protected RestChannelConsumer prepareRequest(RestRequest request, NodeClient client) {
            return channel -> {
                Build build = Build.current();
                XContentBuilder body = channel.newBuilder();
                body.startObject()
                    .field("name", settings.get("node.name", ""))
                    .field("cluster_name", settings.get("cluster.name", "elasticsearch"))
                    .startObject("version")
                    .field("number", build.qualifiedVersion())
                    .field("build_flavor", build.flavor())
                    .field("build_type", "integ-test-zip")
                    .field("build_hash", build.hash())
                    .field("build_date", build.date())
                    .field("build_snapshot", build.isSnapshot())
                    .field("lucene_version", Version.LATEST.toString())
                    .field("minimum_wire_compatibility_version", build.minWireCompatVersion())
                    .field("minimum_index_compatibility_version", build.minIndexCompatVersion())
                    .endObject()
                    .field("tagline", "You Know, for Search")
                    .endObject();
                channel.sendResponse(new RestResponse(RestStatus.OK, body));
            };
        }
    }
}
