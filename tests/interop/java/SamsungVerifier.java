// Samsung's published KWN callback verifier, transcribed for knoxhook's differential tests.
//
// Source: the "Verify the response" section of the Knox Webhook Notification tutorials,
// mirrored in the GitHub repository BxOxSxS/docs.samsungknox.com at
//   docs.samsungknox.com/dev/knox-webhook-notification/tutorial/knox-webhook-notification-for-knox-guard/index.html
//   docs.samsungknox.com/dev/knox-webhook-notification/tutorial/knox-webhook-notification-for-knox-efota/index.html
// (the same code in both; ../shared/knox-api.md section 5 quotes it). verify() below is that
// code, statement for statement; only the Spring plumbing (request, ResponseEntity) is
// replaced by a verdict string. Every verdict maps to the sample's HTTP answer:
//   accept    200 "Result is processed successfully"
//   malformed 400 "Invalid JWS signature" (the header does not split into 3 parts)
//   reject    500 "Signature validation failed"
//   error     500 "Internal error" (any exception: the body is not a JSON object, ...)
//
// One JVM serves many cases: stdin holds one JSON object per line,
//   {"body": base64, "signature": "<X-WSM-SIGNATURE>" | null, "certificate": base64 DER | null}
// and stdout gets one line per case,
//   {"verdict": ..., "reserialized": base64 of the bytes Samsung signs | null, "error": ...,
//    "java": the JVM's java.specification.version (Double.toString changed in Java 19)}
// With no signature only the re-serialization is computed (verdict "none").
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.security.PublicKey;
import java.security.Signature;
import java.security.cert.CertificateFactory;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;

public final class SamsungVerifier {
    // The sample's objectMapper: a default ObjectMapper (the tutorial shows no configuration).
    private static final ObjectMapper objectMapper = new ObjectMapper();
    private static final ObjectMapper io = new ObjectMapper(); // our own NDJSON protocol

    private SamsungVerifier() {}

    /** The tutorial's steps 1 and 2..4, returning the verdict instead of a ResponseEntity. */
    static String verify(byte[] inputStreamBytes, String jwsSignature, PublicKey publicKey, String[] reserialized)
            throws Exception {
        // 1. Get the request body
        Map jsonBody = objectMapper.readValue(inputStreamBytes, HashMap.class);
        String requestBody = objectMapper.writeValueAsString(jsonBody);
        reserialized[0] = requestBody;
        if (jwsSignature == null) {
            return "none";
        }

        // 2. Verify the data and signature
        String[] jwsParts = jwsSignature.split("\\.");
        if (jwsParts.length != 3) {
            // Invalid JWS signature
            return "malformed";
        }

        String encodedHeaders = jwsParts[0];
        String encodedRequestBody = Base64.getUrlEncoder().encodeToString(requestBody.getBytes(StandardCharsets.UTF_8));
        String signature = jwsParts[2];

        String dataToVerify = encodedHeaders + "." + encodedRequestBody;
        byte[] signatureByte = Base64.getUrlDecoder().decode(signature);

        Signature rsaSignature = Signature.getInstance("SHA256withRSA");

        // Pre-download Samsung certificate and store it locally with your application.
        // Load public key from locally stored cert file.
        rsaSignature.initVerify(publicKey);
        rsaSignature.update(dataToVerify.getBytes(StandardCharsets.UTF_8));
        boolean verified = rsaSignature.verify(signatureByte);
        return verified ? "accept" : "reject";
    }

    public static void main(String[] args) throws Exception {
        CertificateFactory x509 = CertificateFactory.getInstance("X.509");
        String javaVersion = System.getProperty("java.specification.version");
        Map<String, PublicKey> keys = new HashMap<>();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isEmpty()) {
                continue;
            }
            JsonNode c = io.readTree(line);
            byte[] body = Base64.getDecoder().decode(c.get("body").asText());
            JsonNode sig = c.get("signature");
            JsonNode cert = c.get("certificate");
            ObjectNode result = io.createObjectNode();
            String[] reserialized = new String[1];
            try {
                PublicKey key = null;
                if (cert != null && !cert.isNull()) {
                    String der = cert.asText();
                    key = keys.get(der);
                    if (key == null) {
                        byte[] bytes = Base64.getDecoder().decode(der);
                        key = x509.generateCertificate(new ByteArrayInputStream(bytes)).getPublicKey();
                        keys.put(der, key);
                    }
                }
                String jws = sig == null || sig.isNull() ? null : sig.asText();
                result.put("verdict", verify(body, jws, key, reserialized));
            } catch (Exception e) {
                result.put("verdict", "error");
                result.put("error", e.getClass().getSimpleName() + ": " + e.getMessage());
            }
            if (reserialized[0] != null) {
                byte[] signed = reserialized[0].getBytes(StandardCharsets.UTF_8);
                result.put("reserialized", Base64.getEncoder().encodeToString(signed));
            } else {
                result.putNull("reserialized");
            }
            result.put("java", javaVersion);
            out.println(io.writeValueAsString(result));
            out.flush();
        }
    }
}
