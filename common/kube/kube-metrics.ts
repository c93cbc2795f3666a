import type { KubeConfig } from "@kubernetes/client-node";
import { getGlobalDispatcher, type Dispatcher } from "undici";
import { counter, DURATION_BUCKETS, histogram, processRegistry, type Registry } from "../metrics.js";

/** The verbs of RBAC and the apiserver's own metrics; "other" for methods the client never sends. */
export type KubeVerb = "get" | "list" | "watch" | "create" | "update" | "patch" | "delete" | "deletecollection" | "other";

/** Subresources of a Namespace: `/api/v1/namespaces/<name>/status` is not a collection named "status". */
const NAMESPACE_SUBRESOURCES = new Set(["status", "finalize"]);

/**
 * The Kubernetes verb of a request, from its method and path as the apiserver's RequestInfo
 * derives it: GET with `watch=true` (or under the old `/watch/` prefix) is watch, GET of a
 * collection list, DELETE of a collection deletecollection. Paths outside `/api` and `/apis`
 * (`/version`, discovery) are reads of one thing.
 */
export function kubeVerb(method: string, path: string): KubeVerb {
  const [pathname = "", query = ""] = path.split("?", 2);
  const parts = pathname.split("/").filter(Boolean);
  const rest = parts[0] === "api" ? parts.slice(2) : parts[0] === "apis" ? parts.slice(3) : [];
  const verb = method.toUpperCase();
  if (verb === "GET" && (rest[0] === "watch" || /(?:^|&)watch=(?:true|1)(?:&|$)/.test(query))) return "watch";
  switch (verb) {
    case "GET":
    case "HEAD":
      return isCollection(rest) ? "list" : "get";
    case "POST":
      return "create";
    case "PUT":
      return "update";
    case "PATCH":
      return "patch";
    case "DELETE":
      return isCollection(rest) ? "deletecollection" : "delete";
    default:
      return "other";
  }
}

/** `<resource>` or `namespaces/<ns>/<resource>`: no object name after the resource. */
function isCollection(rest: string[]): boolean {
  const namespaced = rest[0] === "namespaces" && rest.length > 2 && !NAMESPACE_SUBRESOURCES.has(rest[2]!);
  return (namespaced ? rest.slice(2) : rest).length === 1;
}

const instrumented = new WeakSet<KubeConfig>();

/**
 * Counts and times every request made with `kc`: the generated API clients, KubernetesObjectApi
 * and Watch all authenticate each request through `applySecurityAuthentication`, which hands the
 * request an undici dispatcher; the dispatcher is wrapped with an interceptor (undici's
 * `compose`) that sees the method, the path and the status. Labels: `component` (api,
 * operator), `verb` (kubeVerb), `code` (the HTTP status, "error" when none came); never a path
 * or an object's name. A watch is timed until its response starts, other requests until their
 * body has arrived. Instrumenting a KubeConfig twice counts once.
 */
export function instrumentKubeConfig(kc: KubeConfig, component: "api" | "operator", registry: Registry = processRegistry()): KubeConfig {
  if (instrumented.has(kc)) return kc;
  instrumented.add(kc);
  const requests = counter(registry, "pixelmill_kube_api_requests_total", "Kubernetes API requests by component, verb and HTTP status code.", ["component", "verb", "code"]);
  const seconds = histogram(registry, "pixelmill_kube_api_request_duration_seconds", "Kubernetes API request latency by verb (a watch: until its response starts).", ["verb"], DURATION_BUCKETS);
  const interceptor: Dispatcher.DispatcherComposeInterceptor = (dispatch) => (opts, handler) => {
    const verb = kubeVerb(opts.method, opts.path);
    const started = performance.now();
    let counted = false;
    let timed = false;
    const count = (code: string) => {
      if (!counted) requests.inc({ component, verb, code });
      counted = true;
    };
    const time = () => {
      if (!timed) seconds.observe({ verb }, (performance.now() - started) / 1000);
      timed = true;
    };
    return dispatch(opts, {
      onRequestStart: (controller, context) => handler.onRequestStart?.(controller, context),
      onRequestUpgrade: (controller, statusCode, headers, socket) => handler.onRequestUpgrade?.(controller, statusCode, headers, socket),
      onResponseStart: (controller, statusCode, headers, statusMessage) => {
        if (statusCode >= 200) {
          count(String(statusCode));
          if (verb === "watch") time();
        }
        return handler.onResponseStart?.(controller, statusCode, headers, statusMessage);
      },
      onResponseData: (controller, chunk) => handler.onResponseData?.(controller, chunk),
      onResponseEnd: (controller, trailers) => {
        time();
        return handler.onResponseEnd?.(controller, trailers);
      },
      onResponseError: (controller, error) => {
        count("error");
        time();
        return handler.onResponseError?.(controller, error);
      },
      onResponseStarted: () => handler.onResponseStarted?.(),
      onBodySent: (chunk) => handler.onBodySent?.(chunk),
      onRequestSent: () => handler.onRequestSent?.(),
    });
  };
  const authenticate = kc.applySecurityAuthentication.bind(kc);
  kc.applySecurityAuthentication = async (context) => {
    await authenticate(context);
    // Without TLS settings of its own the client leaves the dispatcher unset: fetch's global one.
    context.setDispatcher((context.getDispatcher() ?? getGlobalDispatcher()).compose(interceptor));
  };
  return kc;
}
