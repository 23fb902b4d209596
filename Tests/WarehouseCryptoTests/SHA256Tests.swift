import Testing
import WarehouseCrypto

@Suite struct SHA256Tests {
    @Test func knownVectors() {
        #expect(SHA256.hex(of: [UInt8]()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(of: Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func streamingEqualsOneShot() {
        let bytes = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let hasher = SHA256()
        var offset = 0
        for size in [1, 63, 64, 65, 4096, 100_000] where offset < bytes.count {
            let end = min(offset + size, bytes.count)
            hasher.update(bytes[offset..<end])
            offset = end
        }
        #expect(Hex.encode(hasher.finalize()) == SHA256.hex(of: bytes))
    }
}

@Suite struct SHA1Tests {
    @Test func knownVectors() {
        #expect(SHA1.hex(of: [UInt8]()) == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(SHA1.hex(of: Array("abc".utf8)) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        // git hash-object of "hello\n": the id the Hub's clients compute for a small file.
        #expect(SHA1.hex(of: Array("blob 6\u{0}hello\n".utf8)) == "ce013625030ba8dba906f756967f9e9ca394464a")
    }
}
