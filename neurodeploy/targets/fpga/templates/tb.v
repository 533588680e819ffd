// tb: reads the input's dimensions from mem/dims.mem (samples, steps, inputs per step) and
// the input vectors from mem/input.mem (samples x steps x inputs signed DW-bit words, hex),
// runs the engine once per sample, and writes every output element as a signed decimal line
// to output.txt (sample by sample, step by step). Prints the cycle count at the end: the clock
// edges at which the engine works (it leaves idle, or is not idle), read like the engine's own
// registers at the edge, so the count is the engine's and not the testbench handshake's (the
// handshake `@(posedge done)` then `@(posedge clk)` takes one more edge per sample in Icarus
// and none in Verilator, which resumes on the edge that raised `done`).
// With +states it also writes the vector memory (every layer's outputs and states) after each
// time step to states.txt, VWORDS signed decimal lines per step, in the same order. The step has
// ended when `step` advances or `done` pulses; the engine writes no vector in the next cycle.
`timescale 1ns/1ps
module tb;
    localparam DW = {DW};
    localparam VWORDS = {VWORDS};
    localparam MAX_INPUT_WORDS = 1 << 22;

    reg clk = 1'b0;
    reg rst = 1'b1;
    reg start = 1'b0;
    wire [11:0] in_index;
    wire [15:0] step;
    wire out_valid;
    wire signed [DW-1:0] out_data;
    wire done;
    reg signed [DW-1:0] inputs [0:MAX_INPUT_WORDS-1];
    reg [31:0] dims [0:2];
    integer SAMPLES, STEPS, NIN;
    integer sample;
    integer file;
    integer cycles;
    integer states;
    integer word;
    reg dump_states;
    reg [15:0] seen_step;

    wire signed [DW-1:0] in_data = inputs[(sample * STEPS + step) * NIN + in_index];

    nd_engine dut (.clk(clk), .rst(rst), .start(start), .steps(dims[1][15:0]),
                   .in_index(in_index), .in_data(in_data), .step(step),
                   .out_valid(out_valid), .out_data(out_data), .done(done));

    always #5 clk = ~clk;

    always @(posedge clk) begin
        if (!rst && (start || dut.state != 3'd0)) cycles = cycles + 1;
        if (out_valid) $fwrite(file, "%0d\n", out_data);
    end

    always @(negedge clk) begin
        if (dump_states && (done || step == seen_step + 16'd1))
            for (word = 0; word < VWORDS; word = word + 1)
                $fwrite(states, "%0d\n", dut.vmem[word]);
        seen_step <= step;
    end

    initial begin
        $readmemh("mem/dims.mem", dims);
        SAMPLES = dims[0];
        STEPS = dims[1];
        NIN = dims[2];
        $readmemh("mem/input.mem", inputs);
        file = $fopen("output.txt", "w");
        dump_states = $test$plusargs("states");
        if (dump_states) states = $fopen("states.txt", "w");
        seen_step = 16'd0;
        cycles = 0;
        sample = 0;
        repeat (2) @(posedge clk);
        rst <= 1'b0;
        for (sample = 0; sample < SAMPLES; sample = sample + 1) begin
            @(posedge clk) start <= 1'b1;
            @(posedge clk) start <= 1'b0;
            @(posedge done);
        end
        @(posedge clk);
        $fclose(file);
        if (dump_states) $fclose(states);
        $display("cycles %0d", cycles);
        $finish;
    end
endmodule
