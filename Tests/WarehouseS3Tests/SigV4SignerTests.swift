import Foundation
import Testing
@testable import WarehouseS3

/// AWS's published examples: https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
/// and sigv4-query-string-auth.html (credentials AKIAIOSFODNN7EXAMPLE, 2013-05-24, us-east-1).
@Suite struct SigV4SignerTests {
    let signer = SigV4Signer(accessKey: "AKIAIOSFODNN7EXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                             region: "us-east-1")
    let date = Date(timeIntervalSince1970: 1_369_353_600) // 2013-05-24T00:00:00Z
    let host = ("host", "examplebucket.s3.amazonaws.com")

    func authorization(_ headers: [(String, String)]) -> String {
        headers.first { $0.0 == "Authorization" }?.1 ?? ""
    }

    @Test func getObjectExample() {
        let (canonical, signed) = signer.canonicalRequest(
            method: "GET", path: "/test.txt", query: [],
            headers: [host, ("Range", "bytes=0-9"), ("x-amz-content-sha256", SigV4Signer.emptyPayloadHash),
                      ("x-amz-date", "20130524T000000Z")],
            payloadHash: SigV4Signer.emptyPayloadHash)
        #expect(canonical == """
            GET
            /test.txt

            host:examplebucket.s3.amazonaws.com
            range:bytes=0-9
            x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            x-amz-date:20130524T000000Z

            host;range;x-amz-content-sha256;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """)
        #expect(signed == "host;range;x-amz-content-sha256;x-amz-date")
        #expect(signer.stringToSign(canonicalRequest: canonical, amzDate: "20130524T000000Z",
                                    scope: "20130524/us-east-1/s3/aws4_request") == """
            AWS4-HMAC-SHA256
            20130524T000000Z
            20130524/us-east-1/s3/aws4_request
            7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972
            """)
        let headers = signer.sign(method: "GET", path: "/test.txt", query: [], headers: [host, ("Range", "bytes=0-9")],
                                  payloadHash: SigV4Signer.emptyPayloadHash, date: date)
        #expect(authorization(headers) == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    }

    @Test func putObjectExample() {
        let payload = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072" // "Welcome to Amazon S3."
        let headers = signer.sign(method: "PUT", path: S3URI.encodePath("/test$file.text"), query: [],
                                  headers: [host, ("Date", "Fri, 24 May 2013 00:00:00 GMT"),
                                            ("x-amz-storage-class", "REDUCED_REDUNDANCY")],
                                  payloadHash: payload, date: date)
        #expect(authorization(headers).hasSuffix("Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"))
    }

    @Test func getBucketLifecycleExample() {
        let headers = signer.sign(method: "GET", path: "/", query: [("lifecycle", "")], headers: [host],
                                  payloadHash: SigV4Signer.emptyPayloadHash, date: date)
        #expect(authorization(headers).hasSuffix("Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"))
    }

    @Test func listObjectsExample() {
        let headers = signer.sign(method: "GET", path: "/", query: [("max-keys", "2"), ("prefix", "J")], headers: [host],
                                  payloadHash: SigV4Signer.emptyPayloadHash, date: date)
        #expect(authorization(headers).hasSuffix("Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"))
    }

    @Test func presignedURLExample() {
        let query = signer.presignedQuery(method: "GET", path: "/test.txt", host: "examplebucket.s3.amazonaws.com",
                                          expires: 86_400, date: date)
        #expect(query.hasSuffix("X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"))
        #expect(query.contains("X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"))
    }

    @Test func keysAreEncodedOnce() {
        #expect(S3URI.encodePath("/b/models/u/m/v1/a b+c%d#e=f~g*h(i)/é.bin")
                == "/b/models/u/m/v1/a%20b%2Bc%25d%23e%3Df~g%2Ah%28i%29/%C3%A9.bin")
        #expect(SigV4Signer.canonicalQuery([("prefix", "a/b c"), ("list-type", "2")]) == "list-type=2&prefix=a%2Fb%20c")
    }
}
