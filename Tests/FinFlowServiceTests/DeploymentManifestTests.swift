import FinFlowCore
import FinFlowServer
import Foundation
import Testing
import Yams

/// The Dockerfile, docker-compose.yml and deploy/k8s name every service of this build, on consistent ports, with
/// the settings they need, and no setting FinFlow does not know.
@Suite("deployment manifests")
struct DeploymentManifestTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let services = ServiceCatalog.all.map(\.name)

    static func text(_ path: String) throws -> String {
        try String(contentsOf: Self.root.appendingPathComponent(path), encoding: .utf8)
    }

    /// Every YAML document of a file.
    static func documents(_ path: String) throws -> [[String: Any]] {
        try Yams.load_all(yaml: Self.text(path)).compactMap { $0 as? [String: Any] }
    }

    /// Refuses settings FinFlow does not read (a typo would be ignored silently).
    static func checkKnown(_ names: some Sequence<String>, in place: String) {
        for name in names where name.hasPrefix("FINFLOW_") {
            #expect(Settings.environmentVariables.contains(name), "\(place) sets \(name), which is not a FinFlow setting")
        }
    }

    @Test("docker-compose.yml runs every service, PostgreSQL, Kafka and Redis, each service on the port it publishes")
    func compose() throws {
        let compose = try #require(try Yams.load(yaml: Self.text("docker-compose.yml")) as? [String: Any])
        let services = try #require(compose["services"] as? [String: [String: Any]])
        for infrastructure in ["postgres", "kafka", "redis", "migrate"] {
            #expect(services[infrastructure] != nil, "docker-compose.yml has no \(infrastructure)")
        }
        #expect((services["migrate"]?["command"] as? [String]) == ["migrate"])
        Self.checkKnown((services["migrate"]?["environment"] as? [String: Any])?.keys ?? [:].keys, in: "migrate")
        var ports: [String: String] = [:]
        for name in Self.services {
            let service = try #require(services[name], "docker-compose.yml has no \(name)")
            #expect((service["command"] as? [String]) == ["serve", "--services", name])
            let environment = try #require(service["environment"] as? [String: Any]).mapValues { "\($0)" }
            Self.checkKnown(environment.keys, in: "docker-compose.yml \(name)")
            let port = try #require(environment["FINFLOW_PORT"], "\(name) names no FINFLOW_PORT")
            #expect((service["ports"] as? [String]) == ["127.0.0.1:\(port):\(port)"], "\(name) publishes another port")
            #expect(environment["FINFLOW_DATABASE_URL"]?.hasPrefix("postgres://") == true)
            #expect(environment["FINFLOW_KAFKA_BROKERS"] == "kafka:9092")
            ports[name] = port
        }
        #expect(Set(ports.values).count == ports.count, "two services share a port")
        // The performance service samples every other process of the stack.
        let performance = (services["performance"]?["environment"] as? [String: Any])?.mapValues { "\($0)" } ?? [:]
        let targets = Set((performance["FINFLOW_PERFORMANCE_TARGETS"] ?? "").split(separator: ",").map(String.init))
        #expect(targets == Set(ports.filter { $0.key != "performance" }.map { "http://\($0.key):\($0.value)" }), "the performance service samples \(targets.sorted())")
        for name in Self.services where name != "auth" {
            let environment = (services[name]?["environment"] as? [String: Any])?.mapValues { "\($0)" } ?? [:]
            #expect(environment["FINFLOW_JWKS_URL"] == "http://auth:\(ports["auth"]!)/.well-known/jwks.json", "\(name) cannot reach auth's keys")
        }
    }

    @Test("docker-compose.yml sends every service's traces to an OpenTelemetry collector, whose pipeline reaches Jaeger")
    func traces() throws {
        let compose = try #require(try Yams.load(yaml: Self.text("docker-compose.yml")) as? [String: Any])
        let services = try #require(compose["services"] as? [String: [String: Any]])
        let collector = try #require(services["otel-collector"], "docker-compose.yml has no otel-collector")
        #expect(services["jaeger"] != nil)
        for name in Self.services {
            let environment = (services[name]?["environment"] as? [String: Any])?.mapValues { "\($0)" } ?? [:]
            #expect(environment["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318", "\(name) sends no traces to the collector")
            #expect(try TracingSetup.choice(environment) == .otlp, "\(name) would not trace")
        }
        let mounted = ((collector["volumes"] as? [String]) ?? []).compactMap { $0.split(separator: ":").first.map(String.init) }
        #expect(mounted.contains("./deploy/otel/collector.yaml"))
        let config = try #require(try Self.documents("deploy/otel/collector.yaml").first)
        let receivers = try #require(config["receivers"] as? [String: Any])
        let http = (((receivers["otlp"] as? [String: Any])?["protocols"] as? [String: Any])?["http"] as? [String: Any])?["endpoint"] as? String
        #expect(http?.hasSuffix(":4318") == true, "the collector does not take OTLP over HTTP on 4318")
        let pipeline = try #require(((config["service"] as? [String: Any])?["pipelines"] as? [String: Any])?["traces"] as? [String: Any])
        let exporters = try #require(config["exporters"] as? [String: Any])
        let processors = (config["processors"] as? [String: Any]) ?? [:]
        #expect((pipeline["receivers"] as? [String]) == ["otlp"])
        for processor in (pipeline["processors"] as? [String]) ?? [] { #expect(processors[processor] != nil, "no processor \(processor)") }
        let named = (pipeline["exporters"] as? [String]) ?? []
        #expect(!named.isEmpty)
        for exporter in named {
            let endpoint = try #require((exporters[exporter] as? [String: Any])?["endpoint"] as? String, "no exporter \(exporter)")
            let host = String(endpoint.split(separator: ":").first ?? "")
            #expect(services[host] != nil, "\(exporter) sends to \(host), which compose does not run")
        }
    }

    @Test("deploy/k8s has a Deployment and a Service per service, probes on the health routes, settings that exist")
    func kubernetes() throws {
        let config = try Self.documents("deploy/k8s/config.yaml")
        let configMap = try #require(config.first { $0["kind"] as? String == "ConfigMap" })
        let secret = try #require(config.first { $0["kind"] as? String == "Secret" })
        let configNames = ((configMap["metadata"] as? [String: Any])?["name"] as? String, (secret["metadata"] as? [String: Any])?["name"] as? String)
        let settings = ((configMap["data"] as? [String: Any]) ?? [:]).merging((secret["stringData"] as? [String: Any]) ?? [:]) { $1 }
        Self.checkKnown(settings.keys, in: "deploy/k8s/config.yaml")
        for required in ["FINFLOW_DATABASE_URL", "FINFLOW_KAFKA_BROKERS", "FINFLOW_JWKS_URL"] {
            #expect(settings[required] != nil, "deploy/k8s/config.yaml does not set \(required)")
        }
        let kustomization = try #require(try Self.documents("deploy/k8s/kustomization.yaml").first)
        let listed = Set((kustomization["resources"] as? [String]) ?? [])
        let files = Set(try FileManager.default.contentsOfDirectory(atPath: Self.root.appendingPathComponent("deploy/k8s").path))
            .subtracting(["kustomization.yaml"])
        #expect(listed == files, "kustomization.yaml lists \(listed.sorted()), the directory holds \(files.sorted())")
        var servicePorts: [String: Int] = [:]
        var addresses: [String: String] = [:]
        var performanceTargets: Set<String> = []
        for descriptor in ServiceCatalog.all {
            let name = descriptor.name
            // A manifest is named after the service, or after its product name where that is what operators know it by.
            let file = FileManager.default.fileExists(atPath: Self.root.appendingPathComponent("deploy/k8s/\(name).yaml").path)
                ? "deploy/k8s/\(name).yaml" : "deploy/k8s/\(descriptor.title).yaml"
            let documents = try Self.documents(file)
            let deployment = try #require(documents.first { $0["kind"] as? String == "Deployment" }, "no Deployment for \(name)")
            let service = try #require(documents.first { $0["kind"] as? String == "Service" }, "no Service for \(name)")
            let pod = try #require(((deployment["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any])
            let container = try #require((pod["containers"] as? [[String: Any]])?.first)
            #expect((container["args"] as? [String]) == ["serve", "--services", name])
            let env = Dictionary(uniqueKeysWithValues: ((container["env"] as? [[String: Any]]) ?? []).map { ("\($0["name"]!)", "\($0["value"] ?? "")") })
            Self.checkKnown(env.keys, in: "deploy/k8s/\(name).yaml")
            let port = try #require(env["FINFLOW_PORT"].flatMap(Int.init), "\(name) sets no FINFLOW_PORT")
            let containerPorts = (container["ports"] as? [[String: Any]]) ?? []
            #expect(containerPorts.contains { $0["name"] as? String == "http" && $0["containerPort"] as? Int == port })
            let from = ((container["envFrom"] as? [[String: Any]]) ?? []).compactMap {
                (($0["configMapRef"] ?? $0["secretRef"]) as? [String: Any])?["name"] as? String
            }
            #expect(Set(from) == Set([configNames.0, configNames.1].compactMap { $0 }), "\(name) does not read the shared settings")
            for (probe, path) in [("readinessProbe", "/health/ready"), ("livenessProbe", "/health/live")] {
                let get = try #require((container[probe] as? [String: Any])?["httpGet"] as? [String: Any], "\(name) has no \(probe)")
                #expect(get["path"] as? String == path && get["port"] as? String == "http", "\(name)'s \(probe)")
            }
            let selector = (deployment["spec"] as? [String: Any])?["selector"] as? [String: Any]
            let serviceSpec = try #require(service["spec"] as? [String: Any])
            let podLabels = ((selector?["matchLabels"] as? [String: Any]) ?? [:]).mapValues { "\($0)" }
            let selected = ((serviceSpec["selector"] as? [String: Any]) ?? [:]).mapValues { "\($0)" }
            #expect(!podLabels.isEmpty && podLabels == selected, "\(name)'s Service selects other pods")
            let servicePort = try #require((serviceSpec["ports"] as? [[String: Any]])?.first)
            #expect(servicePort["port"] as? Int == port && servicePort["targetPort"] as? String == "http")
            servicePorts[name] = port
            addresses[name] = "http://\((service["metadata"] as? [String: Any])?["name"] ?? ""):\(port)"
            if name == "performance" { performanceTargets = Set((env["FINFLOW_PERFORMANCE_TARGETS"] ?? "").split(separator: ",").map(String.init)) }
        }
        #expect(performanceTargets == Set(addresses.filter { $0.key != "performance" }.values), "the performance service samples \(performanceTargets.sorted())")
        #expect(Set(servicePorts.values).count == servicePorts.count, "two services share a port")
        #expect(settings["FINFLOW_JWKS_URL"] as? String == "http://finflow-auth:\(servicePorts["auth"]!)/.well-known/jwks.json")
    }

    @Test("the Dockerfile builds with the Swift toolchain and runs on a slim image with librdkafka")
    func dockerfile() throws {
        let lines = try Self.text("Dockerfile").split(separator: "\n").map(String.init)
        let stages = lines.filter { $0.hasPrefix("FROM ") }
        #expect(stages.count == 2)
        #expect(stages.first?.hasPrefix("FROM swift:") == true && stages.first?.hasSuffix(" AS build") == true)
        #expect(stages.last == "FROM debian:bookworm-slim")
        let build = lines.prefix { $0 != stages.last }.joined(separator: "\n"), run = lines.drop { $0 != stages.last }.joined(separator: "\n")
        #expect(build.contains("librdkafka-dev") && build.contains("swift build -c release --product finflow"))
        #expect(run.contains("librdkafka1") && run.contains("COPY --from=build"))
        #expect(lines.contains("ENTRYPOINT [\"finflow\"]"))
        let variables = lines.filter { $0.hasPrefix("ENV ") }.flatMap { $0.dropFirst(4).split(separator: " ").map { String($0.split(separator: "=")[0]) } }
        #expect(!variables.isEmpty)
        Self.checkKnown(variables, in: "Dockerfile")
    }
}
