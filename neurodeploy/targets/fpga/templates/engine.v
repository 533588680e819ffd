// nd_engine: neurodeploy's microcoded fixed-point vector datapath (Verilog-2005).
//
// Generated for one network: the parameters below and the memory files in mem/ are the only
// parts that change. Once per time step the controller runs the instruction ROM until END;
// see neurodeploy/targets/fpga/isa.py for the exact semantics of every instruction.
//   MV: LANES multiply-accumulate units compute LANES rows at a time (one column per cycle),
//       then write the LANES results back one per cycle.
//   Elementwise instructions handle one element per cycle with one shared multiplier.
// Vector memory and ROMs are read combinationally (distributed RAM); writes are synchronous.
module nd_engine #(
    parameter DW = {DW},                // data width: signed Q{INT_BITS}.{FRAC} words
    parameter LANES = {LANES},            // multiply-accumulate lanes of MV
    parameter ACCW = 48,            // accumulator width
    parameter BW = 48,              // bias / constant ROM word width
    parameter VWORDS = {VWORDS},          // vector memory words
    parameter IWORDS = {IWORDS},          // instructions
    parameter WWORDS = {WWORDS},          // weight ROM words (LANES x DW bits each)
    parameter BWORDS = {BWORDS},          // bias / constant ROM words
    parameter LWORDS = {LWORDS}           // lookup-table ROM words
) (
    input  wire                 clk,
    input  wire                 rst,
    input  wire                 start,         // begin a sequence (clears the vector memory)
    input  wire [15:0]          steps,         // time steps in the sequence
    output reg  [11:0]          in_index,      // element of the current input vector wanted
    input  wire signed [DW-1:0] in_data,       // input[step][in_index], provided combinationally
    output reg  [15:0]          step,          // current time step
    output reg                  out_valid,     // out_data holds one output element
    output reg  signed [DW-1:0] out_data,
    output reg                  done           // one-cycle pulse at the end of the sequence
);
    // ------------------------------------------------------------------ memories
    reg signed [DW-1:0]       vmem [0:VWORDS-1];
    reg        [159:0]        imem [0:IWORDS-1];
    reg        [LANES*DW-1:0] wmem [0:WWORDS-1];
    reg signed [BW-1:0]       bmem [0:BWORDS-1];
    reg signed [DW-1:0]       lmem [0:LWORDS-1];
    initial begin
        $readmemh("mem/program.mem", imem);
        $readmemh("mem/weights.mem", wmem);
        $readmemh("mem/bias.mem", bmem);
        $readmemh("mem/luts.mem", lmem);
    end

    // ------------------------------------------------------------------ instruction fields
    localparam OP_END = 4'd0, OP_MV = 4'd1, OP_ADD = 4'd2, OP_SUB = 4'd3, OP_MUL = 4'd4,
               OP_MULC = 4'd5, OP_ADDC = 4'd6, OP_LUT = 4'd7, OP_SELGT = 4'd8, OP_RELU = 4'd9,
               OP_COPY = 4'd10, OP_IN = 4'd11, OP_OUT = 4'd12;
    reg  [11:0]  pc;
    wire [159:0] ins = imem[pc];
    wire [3:0]   op      = ins[3:0];
    wire [11:0]  f_dst   = ins[15:4];
    wire [11:0]  f_a     = ins[27:16];
    wire [11:0]  f_b     = ins[39:28];
    wire [11:0]  f_n     = ins[51:40];
    wire [11:0]  f_m     = ins[63:52];
    wire [15:0]  f_base  = ins[79:64];
    wire [15:0]  f_bias  = ins[95:80];
    wire [5:0]   f_shift = ins[101:96];
    wire signed [17:0] f_c  = ins[119:102];
    wire signed [17:0] f_c2 = ins[137:120];
    wire signed [17:0] f_c3 = ins[155:138];

    // ------------------------------------------------------------------ arithmetic helpers
    localparam signed [ACCW-1:0] DMAX = (48'sd1 <<< (DW - 1)) - 48'sd1;
    localparam signed [ACCW-1:0] DMIN = -(48'sd1 <<< (DW - 1));

    function signed [ACCW-1:0] round_shift;    // (x + 2^(s-1)) >>> s, or x when s = 0
        input signed [ACCW-1:0] x;
        input [5:0] s;
        begin
            if (s == 6'd0) round_shift = x;
            else round_shift = (x + (48'sd1 <<< (s - 6'd1))) >>> s;
        end
    endfunction

    function signed [DW-1:0] saturate;
        input signed [ACCW-1:0] x;
        begin
            if (x > DMAX) saturate = DMAX[DW-1:0];
            else if (x < DMIN) saturate = DMIN[DW-1:0];
            else saturate = x[DW-1:0];
        end
    endfunction

    // ------------------------------------------------------------------ elementwise datapath
    reg  [11:0] j;                                   // element (or MV column / write-back lane)
    wire signed [DW-1:0]   ea = vmem[f_a + j];
    wire signed [DW-1:0]   eb = vmem[f_b + j];
    wire signed [ACCW-1:0] ea_w = ea;
    wire signed [ACCW-1:0] eb_w = eb;
    wire signed [ACCW-1:0] c_w = f_c;
    wire signed [17:0]     mul_b = (op == OP_MULC) ? f_c : eb;   // the one elementwise multiplier
    wire signed [ACCW-1:0] product = ea * mul_b;
    wire signed [ACCW-1:0] bias_w = bmem[f_bias + j];
    wire signed [ACCW-1:0] lut_pos = (ea_w >>> f_shift) + c_w;
    wire [15:0] lut_index = (lut_pos < 0) ? 16'd0 :
                            (lut_pos >= $signed({32'd0, f_bias})) ? f_bias - 16'd1 : lut_pos[15:0];
    reg signed [DW-1:0] result;
    always @(*) begin
        case (op)
            OP_ADD:   result = saturate(ea_w + eb_w);
            OP_SUB:   result = saturate(ea_w - eb_w);
            OP_MUL,
            OP_MULC:  result = saturate(round_shift(product, f_shift));
            OP_ADDC:  result = saturate(ea_w + bias_w);
            OP_LUT:   result = lmem[f_base + lut_index];
            OP_SELGT: result = (ea_w > c_w) ? f_c2[DW-1:0] : f_c3[DW-1:0];
            OP_RELU:  result = (ea < 0) ? {DW{1'b0}} : ea;
            OP_IN:    result = in_data;
            default:  result = ea;                   // OP_COPY
        endcase
    end

    // ------------------------------------------------------------------ MV lanes
    reg  signed [ACCW-1:0] acc [0:LANES-1];
    reg  [11:0] block;                               // row block: rows block*LANES ..
    wire [LANES*DW-1:0] wword = wmem[f_base + block * f_m + j];
    wire [11:0] row = block * LANES + j;             // row written back in S_MV_WB
    integer lane;

    // ------------------------------------------------------------------ controller
    localparam S_IDLE = 3'd0, S_CLEAR = 3'd1, S_FETCH = 3'd2, S_ELEM = 3'd3, S_MV_ACC = 3'd4,
               S_MV_WB = 3'd5;
    reg [2:0] state;
    reg [12:0] clear_addr;

    always @(*) in_index = j;

    always @(posedge clk) begin
        out_valid <= 1'b0;
        done <= 1'b0;
        if (rst) begin
            state <= S_IDLE;
            pc <= 12'd0;
            step <= 16'd0;
        end else begin
            case (state)
                S_IDLE: if (start) begin
                    clear_addr <= 13'd0;
                    state <= S_CLEAR;
                end
                S_CLEAR: begin                       // zero every vector (states start at 0)
                    vmem[clear_addr] <= {DW{1'b0}};
                    if (clear_addr == VWORDS - 1) begin
                        pc <= 12'd0;
                        step <= 16'd0;
                        state <= S_FETCH;
                    end
                    clear_addr <= clear_addr + 13'd1;
                end
                S_FETCH: begin
                    j <= 12'd0;
                    block <= 12'd0;
                    if (op == OP_END) begin
                        pc <= 12'd0;
                        if (step + 16'd1 == steps) begin
                            done <= 1'b1;
                            state <= S_IDLE;
                        end else begin
                            step <= step + 16'd1;
                        end
                    end else if (op == OP_MV) begin
                        for (lane = 0; lane < LANES; lane = lane + 1)
                            acc[lane] <= bmem[f_bias + lane];
                        state <= S_MV_ACC;
                    end else begin
                        state <= S_ELEM;
                    end
                end
                S_ELEM: begin
                    if (op == OP_OUT) begin
                        out_valid <= 1'b1;
                        out_data <= ea;
                    end else begin
                        vmem[f_dst + j] <= result;
                    end
                    if (j == f_n - 12'd1) begin
                        pc <= pc + 12'd1;
                        state <= S_FETCH;
                    end
                    j <= j + 12'd1;
                end
                S_MV_ACC: begin                      // acc[lane] += W[row, j] * V[a + j]
                    for (lane = 0; lane < LANES; lane = lane + 1)
                        acc[lane] <= acc[lane] +
                            $signed(wword[lane*DW +: DW]) * ea;   // V[a + j]
                    if (j == f_m - 12'd1) begin
                        j <= 12'd0;
                        state <= S_MV_WB;
                    end else begin
                        j <= j + 12'd1;
                    end
                end
                S_MV_WB: begin                       // write lane j of this block, if a row
                    if (row < f_n)
                        vmem[f_dst + row] <= saturate(round_shift(acc[j], f_shift));
                    if (j == LANES - 1 || row == f_n - 12'd1) begin
                        j <= 12'd0;
                        if (row >= f_n - 12'd1) begin
                            pc <= pc + 12'd1;
                            state <= S_FETCH;
                        end else begin
                            block <= block + 12'd1;
                            for (lane = 0; lane < LANES; lane = lane + 1)
                                acc[lane] <= bmem[f_bias + (block + 12'd1) * LANES + lane];
                            state <= S_MV_ACC;
                        end
                    end else begin
                        j <= j + 12'd1;
                    end
                end
                default: state <= S_IDLE;
            endcase
        end
    end
endmodule
