import Foundation
import Testing
import WarehouseCore

@Suite struct Base64URLTests {
    @Test func roundTripsWithoutPaddingOrUnsafeCharacters() {
        for bytes in [[], [0xfb], [0xfb, 0xff], [0xfb, 0xff, 0xbf], Array(0...255).map(UInt8.init)] as [[UInt8]] {
            let text = Base64URL.encode(bytes)
            #expect(!text.contains("+") && !text.contains("/") && !text.contains("="), "\(text)")
            #expect(Base64URL.decode(text) == bytes)
        }
        #expect(Base64URL.encode([0xfb, 0xff]) == "-_8")
        #expect(Base64URL.decode("not base64!") == nil)
    }
}
