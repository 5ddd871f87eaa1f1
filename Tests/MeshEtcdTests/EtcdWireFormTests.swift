import Foundation
@testable import MeshEtcd
import MeshCore
import Testing

/// The gateway's wire forms, without a cluster: base64 of keys and values, prefix ends, message splitting.
@Suite struct EtcdWireFormTests {
    @Test func base64MatchesFoundationAndRefusesOtherText() {
        var g = SystemRandomNumberGenerator()
        for n in 0..<40 {
            let bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &g) }
            let text = EtcdBase64.encode(bytes)
            #expect(text == Data(bytes).base64EncodedString())
            #expect(EtcdBase64.decode(text) == bytes)
        }
        #expect(EtcdBase64.decode("YQ") == nil)        // unpadded
        #expect(EtcdBase64.decode("Y=Q=") == nil)      // padding in the middle
        #expect(EtcdBase64.decode("YQ==YQ==") == nil)  // padding before the end
        #expect(EtcdBase64.decode("Y_Q=") == nil)      // base64url alphabet
    }

    @Test func prefixEndIsTheFirstKeyAfterThePrefix() {
        #expect(EtcdJSON.prefixEnd(Array("/a/".utf8)) == Array("/a0".utf8))
        #expect(EtcdJSON.prefixEnd([0x61, 0xff, 0xff]) == [0x62])
        #expect(EtcdJSON.prefixEnd([0xff]) == [0])
        #expect(EtcdJSON.prefixEnd([]) == [0])
    }

    @Test func streamMessagesAreSplitAtNewlinesAcrossReads() {
        var s = EtcdLineSplitter()
        #expect(s.feed(Array("{\"a\":".utf8)).isEmpty)
        let two = s.feed(Array("1}\n{\"b\":2}\n{\"c\"".utf8))
        #expect(two.map { String(decoding: $0, as: UTF8.self) } == ["{\"a\":1}", "{\"b\":2}"])
        #expect(s.feed(Array(":3}\r\n\n".utf8)).map { String(decoding: $0, as: UTF8.self) } == ["{\"c\":3}\r"])
    }

    @Test func absentFieldsReadAsZeroAndInt64sAsStrings() throws {
        let kv = try EtcdJSON.keyValue(try StrictJSON.parse(Array("{\"key\":\"YQ==\",\"mod_revision\":\"9223372036854775807\"}".utf8)))
        #expect(kv == EtcdKeyValue(key: [0x61], value: [], createRevision: 0, modRevision: .max, version: 0))
        #expect(throws: MeshError.self) { try EtcdJSON.int64(.string("x"), "f") }
        let refusal = EtcdClient.mapRefusal(status: 503, code: 14, message: "etcdserver: no leader", url: "http://h:1")
        #expect(refusal.code == "store.unavailable")
        #expect(EtcdClient.mapRefusal(status: 400, code: 11, message: "mvcc: required revision has been compacted", url: "u").code == "store.compacted")
        #expect(EtcdClient.mapRefusal(status: 400, code: 3, message: "etcdserver: key is not provided", url: "u").code == "store.protocol")
    }
}
