import Testing
import WarehouseCatalog
import WarehouseCore
import WarehouseSQLite

/// The `filter=` grammar: what it turns into, and what it refuses (with the position).
@Suite struct FilterExpressionTests {
    func detail(_ text: String) -> String {
        do {
            _ = try FilterExpression.parse(text)
            return "parsed"
        } catch let error as WarehouseError {
            return error.description
        } catch {
            return "\(error)"
        }
    }

    @Test func precedenceParenthesesAndBindings() throws {
        let expression = try FilterExpression.parse("framework = 'pytorch' AND (num_parameters > 1e9 OR tags IN ('prod', 'it''s')) AND metrics.f1 >= 0.9")
        // AND terms run cheapest first (columns, then indexed field sets, then per-row subqueries),
        // each keeping its own bindings.
        #expect(expression.sql == "(v.framework = ? AND v.id IN (SELECT f.version_id FROM version_fields f WHERE f.path = ? AND f.number >= ?) AND ((v.num_parameters > ? OR (EXISTS (SELECT 1 FROM version_tags t WHERE t.version_id = v.id AND t.tag = ?) OR EXISTS (SELECT 1 FROM version_tags t WHERE t.version_id = v.id AND t.tag = ?)))))")
        #expect(expression.bindings == [.text("pytorch"), .text("@metrics.f1"), .real(0.9), .integer(1_000_000_000),
                                        .text("prod"), .text("it's")])
        // AND binds tighter than OR; NOT applies to one factor.
        #expect(try FilterExpression.parse("name = 'a' OR name = 'b' AND NOT model_type = 'c'").sql
                == "(v.name = ? OR (v.name = ? AND NOT (v.model_type = ?)))")
        let versions = try FilterExpression.parse("version < 'v2.1' and training_loss <= -0.5e-3")
        #expect(versions.sql == "((v.major, v.minor, v.patch) < (?, ?, ?) AND v.training_loss <= ?)")
        #expect(versions.bindings == [.integer(2), .integer(1), .integer(-1), .real(-0.0005)], "\(versions.bindings)")
        #expect(try FilterExpression.parse("name NOT LIKE 'x%' AND tags NOT IN ('a')").sql.hasPrefix("(NOT (v.name LIKE ? ESCAPE"))
        let custom = try FilterExpression.parse("custom.team.lead = 'ana' AND metrics.validation.rmse < 3")
        #expect(custom.bindings == [.text("metrics.validation.rmse"), .integer(3), .text("team.lead"), .text("ana")])
        #expect(custom.sql.contains("f.text = ?"))
        #expect(try FilterExpression.parse("model_size_mb > 2").bindings == [.real(2 * 1_048_576)])
    }

    @Test func syntaxErrorsNameThePositionAndWhatWasExpected() {
        #expect(detail("framework = 'onnx' AND") == "filter: expected a field name, NOT or '(' at position 23 (the end)")
        #expect(detail("framework == 'x'") == "filter: unknown operator '==' at position 11")
        #expect(detail("(name = 'a'") == "filter: expected ')' at position 12 (the end)")
        #expect(detail("name = 'a' name = 'b'") == "filter: expected AND, OR or the end of the filter at position 12 (got 'name')")
        #expect(detail("name = ") == "filter: expected a value at position 8 (the end)")
        #expect(detail("name 'a'") == "filter: expected an operator (= != < <= > >= IN LIKE) at position 6 (got ''a'')")
        #expect(detail("num_parameters > 'many'") == "filter: expected a number at position 18")
        #expect(detail("name = 'open") == "filter: unterminated string starting at position 8")
        #expect(detail("nope = 1").hasPrefix("filter: unknown field 'nope' at position 1"))
        #expect(detail("tags > 'a'") == "filter: tags take =, !=, IN or LIKE (position 8)")
        #expect(detail("version = 'latest'") == "filter: expected a version such as 'v2' or 'v1.2.0' at position 11")
    }

    @Test func hostileInputIsBoundOrRefused() throws {
        // Quotes and SQL in values only ever become bound parameters.
        let injection = try FilterExpression.parse("name = 'x'' OR 1=1; DROP TABLE versions; --'")
        #expect(injection.sql == "v.name = ?")
        #expect(injection.bindings == [.text("x' OR 1=1; DROP TABLE versions; --")])
        #expect(detail("name = 'x'; DROP TABLE versions") == "filter: unexpected character ';' at position 11")
        #expect(detail("custom.a\"b = 1").hasPrefix("filter: unexpected character '\"'"))
        #expect(detail("custom.a..b = 1").hasPrefix("filter: 'custom.a..b' is not a field name"))
        #expect(detail("1 = 1") == "filter: expected a field name, NOT or '(' at position 1 (got '1')")
        // Deep nesting, huge lists, long expressions and many comparisons are refused, not run.
        #expect(detail(String(repeating: "(", count: 40) + "name = 'a'" + String(repeating: ")", count: 40)).contains("nested deeper than 32"))
        #expect(detail(String(repeating: "NOT ", count: 40) + "name = 'a'").contains("nested deeper than 32"))
        let list = (0..<1001).map { "'\($0)'" }.joined(separator: ",")
        #expect(detail("tags IN (\(list))").contains("IN list longer than 1000"))
        #expect(try FilterExpression.parse("tags IN (\((0..<1000).map { "'\($0)'" }.joined(separator: ",")))").bindings.count == 1000)
        #expect(detail("name = '\(String(repeating: "a", count: 70_000))'") == "filter: longer than 65536 bytes")
        #expect(detail((0..<201).map { _ in "name = 'a'" }.joined(separator: " OR ")).contains("more than 200 comparisons"))
        #expect(detail("name = 'ünïcødé ✓'") == "parsed")
    }
}
