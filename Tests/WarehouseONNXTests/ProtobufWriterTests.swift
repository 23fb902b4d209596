import Testing
@testable import WarehouseONNX

@Suite struct ProtobufWriterTests {
    @Test func varintsMatchTheProtobufEncodingGuide() {
        // protobuf.dev "Encoding": 150 → 96 01; 1 → 01; 300 → ac 02.
        var writer = ProtobufWriter()
        writer.varint(150)
        writer.varint(1)
        writer.varint(300)
        #expect(writer.bytes == [0x96, 0x01, 0x01, 0xAC, 0x02])
    }

    @Test func negativeIntsAreTenByteTwosComplement() {
        var writer = ProtobufWriter()
        writer.int(1, -1)
        #expect(writer.bytes == [0x08] + [UInt8](repeating: 0xFF, count: 9) + [0x01])
    }

    @Test func fieldsCarryTheirKeysAndLengths() {
        var writer = ProtobufWriter()
        writer.int(1, 150)            // 08 96 01
        writer.string(2, "testing")   // 12 07 74 65 73 74 69 6e 67
        writer.message(3) { $0.int(1, 150) }  // 1a 03 08 96 01
        #expect(writer.bytes == [0x08, 0x96, 0x01, 0x12, 0x07] + Array("testing".utf8) + [0x1A, 0x03, 0x08, 0x96, 0x01])
    }

    @Test func packedRepeatedScalars() {
        var writer = ProtobufWriter()
        writer.packedInts(4, [3, 270, 86942])  // the guide's example: 22 06 03 8e 02 9e a7 05
        #expect(writer.bytes == [0x22, 0x06, 0x03, 0x8E, 0x02, 0x9E, 0xA7, 0x05])
        var floats = ProtobufWriter()
        floats.packedFloats(7, [1.0])
        #expect(floats.bytes == [0x3A, 0x04, 0x00, 0x00, 0x80, 0x3F])
        var empty = ProtobufWriter()
        empty.packedInts(4, [])
        #expect(empty.bytes.isEmpty)
    }
}
