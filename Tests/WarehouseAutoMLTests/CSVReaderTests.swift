import Foundation
import Testing
@testable import WarehouseAutoML

@Suite struct CSVReaderTests {
    func rows(_ text: String) throws -> (header: [String], rows: [[String]]) {
        try rows(Array(text.utf8))
    }

    func rows(_ bytes: [UInt8]) throws -> (header: [String], rows: [[String]]) {
        let file = ScratchFile(bytes)
        let table = try CSVTable(path: file.path)
        var rows: [[String]] = []
        try table.forEachRow { rows.append($0) }
        return (table.header, rows)
    }

    @Test func quotesDoubledQuotesAndNewlinesInsideQuotes() throws {
        let parsed = try rows("a,b,c\n\"x, y\",\"say \"\"hi\"\"\",\"two\nlines\"\r\n1,,3\n")
        #expect(parsed.header == ["a", "b", "c"])
        #expect(parsed.rows == [["x, y", "say \"hi\"", "two\nlines"], ["1", "", "3"]])
    }

    @Test func sniffsTheDelimiter() {
        #expect(CSVDialect.sniff(Array("a;b;c\n1;2,5;3\n4;5;6\n".utf8)).delimiter == UInt8(ascii: ";"))
        #expect(CSVDialect.sniff(Array("a\tb\n1\t2\n".utf8)).delimiter == UInt8(ascii: "\t"))
        #expect(CSVDialect.sniff(Array("a|b|c\n1|2|3\n".utf8)).delimiter == UInt8(ascii: "|"))
        #expect(CSVDialect.sniff(Array("a,b\n\"1;2\",3\n".utf8)).delimiter == UInt8(ascii: ","))
    }

    @Test func byteOrderMarkAndLatin1() throws {
        let bom = try rows([0xEF, 0xBB, 0xBF] + Array("name,x\nZürich,1\n".utf8))
        #expect(bom.header == ["name", "x"])
        #expect(bom.rows == [["Zürich", "1"]])
        let latin1 = try rows(Array("name,x\nGen".utf8) + [0xE8] + Array("ve,2\n".utf8))
        #expect(latin1.rows == [["Genève", "2"]])
    }

    @Test func malformedFilesNameTheLine() throws {
        #expect { try rows("a,b\n1,2\n3\n") } throws: { ($0 as? CSVError)?.line == 3 }
        #expect { try rows("a,b\n1,\"open\n2,3\n") } throws: { ($0 as? CSVError)?.line == 2 }
        #expect { try rows("a,b\n\"x\"y,2\n") } throws: { ($0 as? CSVError)?.line == 2 }
        #expect { try rows("") } throws: { ($0 as? CSVError)?.line == 1 }
        #expect { try rows("a,a\n1,2\n") } throws: { ($0 as? CSVError)?.message.contains("twice") == true }
    }

    @Test func missingValueTokens() {
        for token in ["", "NA", "n/a", "NaN", "null", "None", "?", " na "] { #expect(MissingValues.isMissing(token), "\(token)") }
        for value in ["0", "nan1", "Nancy", "none of them", "-"] { #expect(!MissingValues.isMissing(value), "\(value)") }
    }

    @Test func datesAndNumbers() {
        #expect(DateParsing.days("1970-01-02") == 1)
        #expect(DateParsing.days("2000-03-01T12:00:00") == 11_017.5)
        #expect(DateParsing.days("2000-13-01") == nil)
        #expect(NumberParsing.double("1e3") == 1000)
        #expect(NumberParsing.double("0x10") == nil)
        #expect(NumberParsing.double("inf") == nil)
    }
}

@Suite struct ProfileTests {
    @Test func typesCountsAndTarget() throws {
        var csv = "id,age,income,member,city,joined,notes,constant,churn\n"
        for row in 0..<60 {
            let age = row % 7 == 0 ? "NA" : String(20 + row % 40)
            let notes = "free text note number \(row) that is long enough to look like prose rather than a category"
            csv += "\(row + 1),\(age),\(Double(row) * 1.5),\(row % 2 == 0 ? "yes" : "no"),\(["Oslo", "Rome", "Lima"][row % 3]),2024-01-\(10 + row % 9),\"\(notes)\",same,\(row % 3 == 0 ? "yes" : "no")\n"
        }
        let file = ScratchFile(csv)
        let profile = try DatasetProfile.profile(path: file.path)
        func column(_ name: String) throws -> ColumnProfile { try #require(profile.column(name)) }
        #expect(profile.rows == 60)
        #expect(profile.targetColumn == "churn")
        #expect(profile.taskType == .classification && profile.problemType == .binary)
        #expect(try column("id").dtype == .identifier && column("id").role == "dropped")
        #expect(try column("age").dtype == .integer && column("age").nullCount == 9)
        #expect(try column("income").dtype == .float && column("income").max == 88.5)
        #expect(try column("member").dtype == .boolean)
        #expect(try column("city").dtype == .categorical && column("city").uniqueCount == 3)
        #expect(try column("city").topValues?.first == ValueCount(value: "Lima", count: 20))
        #expect(try column("joined").dtype == .datetime)
        #expect(try column("notes").dtype == .text && column("notes").role == "dropped")
        #expect(try column("constant").role == "dropped")
        #expect(profile.features == ["age", "income", "member", "city", "joined"])
        #expect(profile.sampleData.count == 20)
        #expect(profile.sampleData[0]["age"] == .some(nil))
    }

    @Test func regressionWhenManyNumericValues() throws {
        var csv = "x,y\n"
        for row in 0..<100 { csv += "\(row % 10),\(Double(row) * 0.37)\n" }
        let file = ScratchFile(csv)
        let profile = try DatasetProfile.profile(path: file.path)
        #expect(profile.targetColumn == "y" && profile.taskType == .regression)
        // Fewer than 20 distinct numbers: classification.
        var small = "x,label\n"
        for row in 0..<100 { small += "\(Double(row) * 0.1),\(row % 4)\n" }
        let smallFile = ScratchFile(small)
        #expect(try DatasetProfile.profile(path: smallFile.path).problemType == .multiclass)
    }

    @Test func distinctCountsAreEstimatedBeyondTheBound() throws {
        var csv = "key,value,target\n"
        for row in 0..<30_000 { csv += "k\((row * 7919) % 25_000),\(row % 5),\(row % 2)\n" }
        let file = ScratchFile(csv)
        let profile = try DatasetProfile.profile(path: file.path)
        let key = try #require(profile.column("key"))
        #expect(!key.uniqueExact)
        #expect(abs(Double(key.uniqueCount) - 25_000) / 25_000 < 0.1, "estimate \(key.uniqueCount)")
    }

    @Test func badTargetsAreErrors() throws {
        let file = ScratchFile("a,b\n1,x\n2,x\n")
        // A one-class target profiles (uploading never fails on what training would do);
        // the profile says why a job would refuse.
        let oneClass = try DatasetProfile.profile(path: file.path)
        #expect(oneClass.trainingRefusal == "target column 'b' has 1 distinct value; classification needs at least 2")
        let ids = ScratchFile("id,label\n" + (1...40).map { "u\($0),\($0 % 2 == 0 ? "a" : "b")" }.joined(separator: "\n") + "\n")
        #expect(try DatasetProfile.profile(path: ids.path).trainingRefusal?.hasPrefix("no usable feature columns (dropped: id: identifier") == true)
        let trainable = ScratchFile("x,y\n" + (0..<50).map { "\(Double($0) * 0.5),\($0 % 2 == 0 ? "a" : "b")" }.joined(separator: "\n") + "\n")
        #expect(try DatasetProfile.profile(path: trainable.path).trainingRefusal == nil)
        #expect(throws: ProfileError.self) { try DatasetProfile.profile(path: file.path, targetColumn: "zzz") }
        let text = ScratchFile("a,b\n1,x\n2,y\n")
        #expect(throws: ProfileError.self) { try DatasetProfile.profile(path: text.path, targetColumn: "b", taskType: .regression) }
    }
}
