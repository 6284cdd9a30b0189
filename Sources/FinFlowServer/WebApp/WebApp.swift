import FinFlowCore
import Hummingbird
import NIOCore

/// The small web app `finflow serve` answers at `/app`: sign-in, the KPI dashboard with charts, the statements and the
/// live anomaly feed. Plain HTML, CSS and JavaScript written for the browser as it is (no build step, no CDN), kept
/// in the binary as text, served with a content security policy that allows nothing but this origin.
enum WebApp {
    struct File {
        let contentType: String
        let text: String
    }

    static let files: [String: File] = [
        "index.html": File(contentType: "text/html; charset=utf-8", text: Self.indexHTML),
        "app.js": File(contentType: "text/javascript; charset=utf-8", text: Self.script),
        "app.css": File(contentType: "text/css; charset=utf-8", text: Self.style),
    ]

    /// Nothing from elsewhere: scripts, styles, images and connections to this origin only; never framed.
    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

    static func register(on router: FinFlowRouter) {
        router.get("/app") { _, _ in Self.response("index.html") }
        router.get("/app/{file}") { _, context -> Response in
            guard let name = context.parameters.get("file"), Self.files[name] != nil else { throw AppError.notFound("app file") }
            return Self.response(name)
        }
    }

    static func response(_ name: String) -> Response {
        let file = Self.files[name]!
        return Response(
            status: .ok,
            headers: [
                .contentType: file.contentType, .contentSecurityPolicy: Self.contentSecurityPolicy, .init("X-Content-Type-Options")!: "nosniff",
                .init("Referrer-Policy")!: "no-referrer", .cacheControl: "no-cache",
            ],
            body: .init(byteBuffer: ByteBuffer(string: file.text)))
    }
}
